import Testing

/// The error `body` throws, as `#expect(throws:)` returns it from Swift 6.1
/// on (Swift 6.0's `#expect(throws:)` returns nothing, and the aarch64 build
/// uses Debian's 6.0.3). Records an issue, and returns nil, when `body`
/// throws nothing or another type.
func thrown<E: Error, R>(_ type: E.Type, _ comment: Comment? = nil, sourceLocation: SourceLocation = #_sourceLocation,
                         _ body: () throws -> R) -> E? {
    do {
        _ = try body()
        Issue.record(comment ?? "expected an error of type \(E.self)", sourceLocation: sourceLocation)
    } catch let error as E {
        return error
    } catch {
        Issue.record("expected an error of type \(E.self), got \(error)", sourceLocation: sourceLocation)
    }
    return nil
}
