import FacecDetect

/// All faces of a gallery in memory for exact search, laid out the way the
/// search kernel reads them: rows in groups of 8, each group stored dimension
/// by dimension with the 8 rows side by side ([group][dim][8], zero-padded),
/// so one vector load holds one dimension of 8 faces and the kernel needs no
/// horizontal sums. Per row also its norm and the photo and facial area it came from.
///
/// The same layout is kept in IEEE half precision for the search's first
/// pass: a single query over a large gallery is bound by memory bandwidth,
/// and half the bytes is half the time. Each row records how far its half
/// copy is from the float32 one (‖x − half(x)‖), so the search can widen its
/// margin by exactly that much and stay exact (ExactSearch).
public struct FaceMatrix: Sendable {
    public static let lanes = 8
    public let dim: Int
    /// [⌈count/8⌉][dim][8] floats.
    public private(set) var packed: [Float] = []
    /// `packed` rounded to half precision; empty when a value is outside half's range.
    public private(set) var halfPacked: [Float16] = []
    /// Per row ‖x − half(x)‖ (Euclidean, float32 rounded up).
    public private(set) var halfErrors: [Float] = []
    /// False once a value did not fit in half precision: the search then reads `packed`.
    public private(set) var halfUsable = true
    public private(set) var squaredNorms: [Float] = []
    /// 1/‖row‖ (0 for an all-zero row): cosine keys need no division.
    public private(set) var inverseNorms: [Float] = []
    public private(set) var photos: [String] = []
    public private(set) var people: [String] = []
    /// Row -> index into `photos`/`people`.
    public private(set) var photoOfRow: [Int32] = []
    public private(set) var areas: [FacialArea] = []
    public var count: Int { photoOfRow.count }
    public var groups: Int { (count + Self.lanes - 1) / Self.lanes }

    public init(dim: Int) { self.dim = dim }

    /// Starts a photo; its faces follow with `append`.
    public mutating func beginPhoto(path: String, person: String) {
        photos.append(path)
        people.append(person)
    }

    public mutating func reserve(faces: Int) {
        packed.reserveCapacity((faces + Self.lanes - 1) / Self.lanes * Self.lanes * dim)
        if halfUsable {
            halfPacked.reserveCapacity((faces + Self.lanes - 1) / Self.lanes * Self.lanes * dim)
            halfErrors.reserveCapacity(faces)
        }
        squaredNorms.reserveCapacity(faces)
        inverseNorms.reserveCapacity(faces)
        photoOfRow.reserveCapacity(faces)
        areas.reserveCapacity(faces)
    }

    /// A face of the last photo begun; `embedding` holds `dim` floats.
    public mutating func append(area: FacialArea, embedding: UnsafeBufferPointer<Float>) {
        precondition(embedding.count == dim && !photos.isEmpty)
        appendRow(embedding)
        photoOfRow.append(Int32(photos.count - 1))
        areas.append(area)
    }

    private mutating func appendRow(_ e: UnsafeBufferPointer<Float>) {
        let i = squaredNorms.count, lane = i % Self.lanes
        if lane == 0 { packed.append(contentsOf: repeatElement(0, count: Self.lanes * dim)) }
        let base = (i / Self.lanes) * Self.lanes * dim
        var s: Float = 0
        let dim = self.dim
        packed.withUnsafeMutableBufferPointer { p in
            for k in 0..<dim {
                p[base + k * Self.lanes + lane] = e[k]
                s += e[k] * e[k]
            }
        }
        squaredNorms.append(s)
        inverseNorms.append(s > 0 ? 1 / s.squareRoot() : 0)
        if halfUsable { appendHalfRow(e, index: i) }
    }

    private mutating func appendHalfRow(_ e: UnsafeBufferPointer<Float>, index i: Int) {
        let lane = i % Self.lanes, dim = self.dim
        if lane == 0 { halfPacked.append(contentsOf: repeatElement(0, count: Self.lanes * dim)) }
        let base = (i / Self.lanes) * Self.lanes * dim
        var err: Double = 0, fits = true
        halfPacked.withUnsafeMutableBufferPointer { p in
            for k in 0..<dim {
                let h = Float16(e[k])
                guard h.isFinite else { fits = false; return }
                p[base + k * Self.lanes + lane] = h
                let d = Double(e[k]) - Double(Float(h))
                err += d * d
            }
        }
        guard fits else { halfUsable = false; halfPacked = []; halfErrors = []; return }
        // Rounded up (plus a relative ulp) so the margin is never too small.
        halfErrors.append(Float(err.squareRoot()).nextUp * (1 + 1e-6))
    }

    /// Row i's embedding.
    public func row(_ i: Int) -> [Float] {
        let base = (i / Self.lanes) * Self.lanes * dim, lane = i % Self.lanes
        return (0..<dim).map { packed[base + $0 * Self.lanes + lane] }
    }

    public func path(ofRow i: Int) -> String { photos[Int(photoOfRow[i])] }
    public func person(ofRow i: Int) -> String { people[Int(photoOfRow[i])] }
}

extension FaceMatrix {
    /// Rows without photos (the search benchmark's synthetic galleries).
    public init(dim: Int, rows: [Float]) {
        precondition(dim > 0 && rows.count % dim == 0)
        self.init(dim: dim)
        let n = rows.count / dim
        reserve(faces: n)
        beginPhoto(path: "-", person: "-")
        rows.withUnsafeBufferPointer { all in
            for i in 0..<n { appendRow(UnsafeBufferPointer(rebasing: all[(i * dim)..<((i + 1) * dim)])) }
        }
        photoOfRow = Array(repeating: 0, count: n)
        areas = Array(repeating: FacialArea(x: 0, y: 0, width: 0, height: 0), count: n)
    }
}
