/// A Swift enum whose cases stand for a C enum's values 0, 1, 2… in the same order (--dirty,
/// --mem-policy, --detect, --mitigations and CShims' gb_dirty_mode, gb_policy, gb_detect_mode,
/// gb_mitigation). The C value is the case's position, derived once here rather than by a switch
/// per enum that listed every case a second time; a case added on one side only fails
/// `CReaderTests.theSwiftChoicesMirrorTheirCEnums`.
protocol CEnumMirror: CaseIterable, Equatable where AllCases == [Self] {
    associatedtype CValue: RawRepresentable where CValue.RawValue: BinaryInteger
}

extension CEnumMirror {
    /// The C enum value of this case (a search of `allCases`): read outside timed windows, as
    /// ReleaseCalls does for the detection mode.
    var cValue: CValue { CValue(rawValue: CValue.RawValue(Self.allCases.firstIndex(of: self)!))! }
}
