import FacecDetect

/// All faces of a gallery in memory for exact search: embeddings row by row
/// in one contiguous float32 array (what the search kernel streams), their
/// norms, and per row the photo and facial area it came from.
public struct FaceMatrix: Sendable {
    public let dim: Int
    public private(set) var embeddings: [Float] = []
    public private(set) var squaredNorms: [Float] = []
    public private(set) var photos: [String] = []
    public private(set) var people: [String] = []
    /// Row -> index into `photos`/`people`.
    public private(set) var photoOfRow: [Int32] = []
    public private(set) var areas: [FacialArea] = []
    public var count: Int { photoOfRow.count }

    public init(dim: Int) { self.dim = dim }

    /// Starts a photo; its faces follow with `append(face:)`.
    public mutating func beginPhoto(path: String, person: String) {
        photos.append(path)
        people.append(person)
    }

    public mutating func reserve(faces: Int) {
        embeddings.reserveCapacity(faces * dim)
        squaredNorms.reserveCapacity(faces)
        photoOfRow.reserveCapacity(faces)
        areas.reserveCapacity(faces)
    }

    /// A face of the last photo begun; `embedding` holds `dim` floats.
    public mutating func append(area: FacialArea, embedding: UnsafeBufferPointer<Float>) {
        precondition(embedding.count == dim && !photos.isEmpty)
        embeddings.append(contentsOf: embedding)
        var s: Float = 0
        for x in embedding { s += x * x }
        squaredNorms.append(s)
        photoOfRow.append(Int32(photos.count - 1))
        areas.append(area)
    }

    public func row(_ i: Int) -> ArraySlice<Float> { embeddings[(i * dim)..<((i + 1) * dim)] }
    public func path(ofRow i: Int) -> String { photos[Int(photoOfRow[i])] }
    public func person(ofRow i: Int) -> String { people[Int(photoOfRow[i])] }
}

extension FaceMatrix {
    /// Rows without photos (the search benchmark's synthetic galleries).
    public init(dim: Int, rows: [Float]) {
        precondition(dim > 0 && rows.count % dim == 0)
        self.init(dim: dim)
        beginPhoto(path: "-", person: "-")
        let n = rows.count / dim
        embeddings = rows
        squaredNorms = (0..<n).map { i in
            var s: Float = 0
            for k in (i * dim)..<((i + 1) * dim) { s += rows[k] * rows[k] }
            return s
        }
        photoOfRow = Array(repeating: 0, count: n)
        areas = Array(repeating: FacialArea(x: 0, y: 0, width: 0, height: 0), count: n)
    }
}
