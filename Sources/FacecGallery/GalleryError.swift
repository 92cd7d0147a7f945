/// A gallery failure: the gallery (file or database URL) or photo it concerns,
/// and what is wrong, as one line.
public struct GalleryError: Error, CustomStringConvertible, Sendable {
    public let location: String
    public let reason: String
    public init(_ location: String, _ reason: String) { self.location = location; self.reason = reason }
    public var description: String { "\(location): \(reason)" }
}
