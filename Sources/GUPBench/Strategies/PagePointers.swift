import CShims

/// A descriptor in the memmap (`struct page *` in the kernel).
public typealias PagePointer = UnsafeMutablePointer<gb_page>
/// The page array a get_user_pages() call fills (`struct page **`).
public typealias PageArray = UnsafeMutablePointer<PagePointer>
/// The ledger of --detect ledger, or nil.
public typealias LedgerPointer = UnsafeMutablePointer<gb_ledger>

/// The Swift release loops, the product under test: plain functions over unsafe pointers calling
/// the `static inline` C primitives of `gb_page.h`; no allocation, no ARC, no bounds checks and
/// no dynamic dispatch inside. Each strategy's file in this folder adds its loop.
public enum ReleaseLoops {}
