/// Every failure facec reports: what kind of thing went wrong (for programs:
/// the C API's status, the CLI's exit code, Python's exception), the file or
/// place it concerns, and why, in words. `description` is "<path>: <reason>"
/// (the reason alone when there is no path), printed on one line by the CLI.
public struct FacecError: Error, CustomStringConvertible, Sendable, Equatable {
    public enum Kind: String, Sendable, CaseIterable {
        /// The command line is wrong (exit status 64).
        case usage
        /// A request does not fit the model or the data (a threshold the
        /// model lacks, a tensor of the wrong shape, an unknown flag).
        case argument
        /// A file or directory cannot be opened, read, written or created.
        case io
        /// A .fgraph model file is damaged, malformed or of a newer format.
        case model
        /// A source weight file (.h5, .mat, .dat) or cascade cannot be imported.
        case weights
        /// The imported network cannot be compiled (names the layer).
        case graph
        /// A photo cannot be decoded, or is beyond the size limits.
        case image
        /// A user's data file (.npy tensors, a pairs CSV) is malformed.
        case input
        /// A gallery (SQLite file or PostgreSQL database) cannot be used.
        case gallery
        /// No face in a photo that must have one.
        case noFace
        /// Face detection asked of a model that carries no detector.
        case noDetector
        /// Detection stopped at its work bound (a hostile cascade).
        case tooMuchWork
        /// A bug: facec's own invariant broken.
        case `internal`
    }

    public let kind: Kind
    /// The file, photo, gallery, or `layer 'name'` the failure concerns; "" if none.
    public let path: String
    public let reason: String

    public init(_ kind: Kind, _ path: String, _ reason: String) {
        self.kind = kind; self.path = path; self.reason = reason
    }

    public var description: String { path.isEmpty ? reason : "\(path): \(reason)" }
}

/// A reason found deep inside a container reader (HDF5, MAT, dlib, XML),
/// which knows neither the file nor the object's path; the caller that knows
/// them turns it into a `FacecError`. One type for every reader: their faults
/// differ only in wording.
public struct ReadFault: Error, Sendable {
    public let reason: String
    /// Where below the object the caller knows the fault lies (e.g. `{2}` for
    /// the second element of a cell array being read), or "".
    public var within: String = ""
    public init(_ reason: String, within: String = "") { self.reason = reason; self.within = within }
}

/// Messages quote names read from hostile files: keep them on one printable
/// line (line breaks become spaces, other control characters \u{…}).
public func oneLine(_ message: String) -> String {
    guard message.unicodeScalars.contains(where: { isControlCharacter($0) || $0 == "\u{2028}" || $0 == "\u{2029}" }) else { return message }
    var out = ""
    for u in message.unicodeScalars {
        if u == "\n" || u == "\r" { out += " " }
        else if isControlCharacter(u) || u == "\u{2028}" || u == "\u{2029}" {
            out += "\\u{\(String(u.value, radix: 16))}"
        } else { out.unicodeScalars.append(u) }
    }
    return out
}

/// C0 and C1 control characters and DEL: what must never reach a terminal
/// raw (the loader refuses names holding one; messages escape them).
public func isControlCharacter(_ u: Unicode.Scalar) -> Bool {
    u.value < 0x20 || u.value == 0x7F || (0x80..<0xA0).contains(u.value)
}
