import Synchronization

/// Every handle facec has given to C and not yet taken back, by address.
///
/// A pointer that is not in the table (a closed handle, one of another
/// kind, or anything else) is refused before it is dereferenced: a C
/// caller's mistake becomes FACEC_ERROR_ARGUMENT, or NULL/0 from the
/// accessors, never a crash or a read of freed memory. One lookup under a
/// mutex costs tens of nanoseconds against milliseconds of work per call.
enum HandleRegistry {
    enum Kind: Sendable { case model, session, faces }

    private static let live = Mutex<[UInt: Kind]>([:])

    /// A new reference for C to hold.
    static func register(_ object: AnyObject, as kind: Kind) -> OpaquePointer {
        let p = Unmanaged.passRetained(object).toOpaque()
        live.withLock { $0[UInt(bitPattern: p)] = kind }
        return OpaquePointer(p)
    }

    /// The object behind `p` if it is a live handle of this kind (a strong
    /// reference: a concurrent close cannot free it while it is used).
    static func object<T: AnyObject>(_ p: OpaquePointer?, _ kind: Kind, _: T.Type) -> T? {
        guard let p else { return nil }
        let key = UInt(bitPattern: UnsafeRawPointer(p))
        // Retained under the lock, so a concurrent close cannot free it
        // before the strong reference exists (the +1 is taken over below).
        let retained = live.withLock { table -> Bool in
            guard table[key] == kind else { return false }
            _ = Unmanaged<T>.fromOpaque(UnsafeRawPointer(p)).retain()
            return true
        }
        return retained ? Unmanaged<T>.fromOpaque(UnsafeRawPointer(p)).takeRetainedValue() : nil
    }

    /// Takes C's reference back; false if `p` is not a live handle of this kind.
    @discardableResult
    static func release(_ p: OpaquePointer?, _ kind: Kind) -> Bool {
        guard let p else { return true }
        let key = UInt(bitPattern: UnsafeRawPointer(p))
        let known = live.withLock { table -> Bool in
            guard table[key] == kind else { return false }
            table[key] = nil
            return true
        }
        if known { Unmanaged<AnyObject>.fromOpaque(UnsafeRawPointer(p)).release() }
        return known
    }
}
