import CShims

/// A descriptor in the memmap (`struct page *` in the kernel).
public typealias PagePointer = UnsafeMutablePointer<gb_page>
/// The page array a get_user_pages() call fills (`struct page **`).
public typealias PageArray = UnsafeMutablePointer<PagePointer>
/// The ledger of --detect ledger, or nil.
public typealias LedgerPointer = UnsafeMutablePointer<gb_ledger>
