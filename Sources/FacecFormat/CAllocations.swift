#if canImport(Glibc)
import Glibc
#endif

/// Owns the C memory of a protobuf-c message tree built from Swift, and frees
/// it all at once: protobuf-c messages are plain structs of raw pointers.
final class CAllocations {
    private var releases: [() -> Void] = []

    deinit { for release in releases { release() } }

    func string(_ s: String) -> UnsafeMutablePointer<CChar> {
        let p = strdup(s)!
        releases.append { free(p) }
        return p
    }

    func array<T>(_ items: [T]) -> UnsafeMutablePointer<T>? {
        guard !items.isEmpty else { return nil }
        let p = UnsafeMutablePointer<T>.allocate(capacity: items.count)
        p.initialize(from: items, count: items.count)
        releases.append { p.deinitialize(count: items.count); p.deallocate() }
        return p
    }

    func object<T>(_ value: T) -> UnsafeMutablePointer<T> {
        let p = UnsafeMutablePointer<T>.allocate(capacity: 1)
        p.initialize(to: value)
        releases.append { p.deinitialize(count: 1); p.deallocate() }
        return p
    }

    func objects<T>(_ values: [T]) -> UnsafeMutablePointer<UnsafeMutablePointer<T>?>? {
        array(values.map { Optional(object($0)) })
    }
}
