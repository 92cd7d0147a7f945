import FacecDetect
import FacecFormat

/// One photo of the gallery as stored: where it was, whose it is, what its
/// content was when embedded (to notice changes), and its faces (none when
/// no face was found: recorded so that it is not embedded again).
public struct PhotoRecord: Sendable {
    public var path: String
    public var person: String
    /// SHA-256 of the file's bytes, hex.
    public var sha256: String
    public var size: Int64
    public var mtimeNs: Int64
    public var faces: [StoredFace]
    public init(path: String, person: String, sha256: String, size: Int64, mtimeNs: Int64, faces: [StoredFace]) {
        self.path = path; self.person = person; self.sha256 = sha256; self.size = size; self.mtimeNs = mtimeNs; self.faces = faces
    }
}

/// One face of a gallery photo: deepface's target facial area and its embedding.
public struct StoredFace: Sendable {
    public var index: Int
    public var area: FacialArea
    public var confidence: Double
    public var embedding: [Float]
    public init(index: Int, area: FacialArea, confidence: Double, embedding: [Float]) {
        self.index = index; self.area = area; self.confidence = confidence; self.embedding = embedding
    }
}

/// What the gallery knows of a file without its faces: enough to decide
/// whether it must be embedded again.
public struct PhotoState: Sendable, Equatable {
    public var sha256: String
    public var size: Int64
    public var mtimeNs: Int64
    public var faces: Int
    public var person: String
}

public struct GalleryStats: Sendable {
    public var photos: Int
    public var photosWithoutFace: Int
    public var faces: Int
    public var people: Int
    public var model: GalleryModel
    /// Bytes on disk (SQLite) or in the database's tables (PostgreSQL).
    public var bytes: Int64
}

/// The model a gallery was built with. Embeddings of different models (or of
/// the same weights with another output, preprocessing, precision or
/// detector) are not comparable, so a gallery refuses them.
public struct GalleryModel: Sendable, Equatable {
    public var name: String
    public var sourceSHA256: String
    public var output: String
    public var dim: Int
    public var detector: String
    public var weights: String
    public var preprocessing: String

    public init(name: String, sourceSHA256: String, output: String, dim: Int, detector: String, weights: String, preprocessing: String) {
        self.name = name; self.sourceSHA256 = sourceSHA256; self.output = output; self.dim = dim
        self.detector = detector; self.weights = weights; self.preprocessing = preprocessing
    }

    /// `detector`: what finds the faces (the model's own, or "skip").
    public init(_ header: ModelHeader, detector: String) {
        let i = header.input
        self.init(name: header.modelName,
                  sourceSHA256: header.provenance.sourceSHA256.map { String($0, radix: 16).leftPadded(2) }.joined(),
                  output: header.output.name, dim: header.output.dim, detector: detector,
                  weights: header.weightPrecision.rawValue,
                  preprocessing: "\(i.width)x\(i.height) \(i.colorOrder) scale \(i.scale) mean \(i.mean) \(i.resize) l2 \(header.output.l2Normalize)"
                    + (i.truncateToUInt8 ? " uint8 x\(i.postScale)" : ""))
    }

    /// The stored fields, as key/value pairs (the gallery's meta table).
    var fields: [(String, String)] {
        [("model", name), ("source_sha256", sourceSHA256), ("output", output), ("dim", "\(dim)"),
         ("detector", detector), ("weights", weights), ("preprocessing", preprocessing)]
    }

    init?(fields: [String: String]) {
        guard let name = fields["model"], let sha = fields["source_sha256"], let output = fields["output"],
              let dimText = fields["dim"], let dim = Int(dimText), dim > 0, dim <= 1 << 20,
              let detector = fields["detector"], let weights = fields["weights"], let pre = fields["preprocessing"] else { return nil }
        self.init(name: name, sourceSHA256: sha, output: output, dim: dim, detector: detector, weights: weights, preprocessing: pre)
    }

    /// Why `other` (the model in hand) cannot use a gallery built with self, or nil.
    public func mismatch(_ other: GalleryModel) -> String? {
        let mine = fields, theirs = other.fields
        for (k, (key, value)) in mine.enumerated() where theirs[k].1 != value {
            return "was built with another model (\(key) \(value.prefix(64)), this model has \(theirs[k].1.prefix(64))): embeddings of different models cannot be compared; use the gallery's model or build a new gallery"
        }
        return nil
    }

    public var summary: String { "\(name) \(output) [\(dim)], weights \(weights), faces by \(detector), source sha256 \(sourceSHA256.prefix(12))…" }
}

extension String {
    func leftPadded(_ n: Int) -> String { count >= n ? self : String(repeating: "0", count: n - count) + self }
}
