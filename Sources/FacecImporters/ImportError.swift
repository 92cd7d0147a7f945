/// Why a weight file cannot be imported. Always names the file.
public struct ImportError: Error, CustomStringConvertible, Sendable {
    public let path: String
    public let reason: String
    public init(_ path: String, _ reason: String) { self.path = path; self.reason = reason }
    public var description: String { "\(path): \(reason)" }
}
