import FacecCore
import Synchronization
import FacecFormat
#if canImport(Glibc)
import Glibc
#endif

/// A detection: the box in image pixels and, for detectors run with reject
/// levels (deepface's faces), the sum of the cascade's last stage.
public struct Detection: Sendable, Equatable {
    public var x, y, width, height: Int
    public var weight: Double
    public init(x: Int, y: Int, width: Int, height: Int, weight: Double = 0) {
        self.x = x; self.y = y; self.width = width; self.height = height; self.weight = weight
    }
}

/// OpenCV's `CascadeClassifier::detectMultiScale` for a HAAR stump cascade,
/// ported for the same result on the same 8-bit image (see ARCHITECTURE.md):
/// the scale list (factor 1, ×scaleFactor while the window fits, in double,
/// stored as float), each scale's image resized from the original with
/// `LinearExactResize`, integral images of sums and squares in wrapping
/// 32-bit integers, windows every 2 pixels below scale 2 (every pixel from
/// 2), a window skipped after one whose first stage failed, the variance
/// normalisation (`1/sqrt(area·Σx² − (Σx)²)` over the window inset by one
/// pixel; windows with too little contrast rejected), float feature values
/// and double stage sums, candidates in OpenCV's one-thread order, then
/// `groupRectangles` with eps 0.2.
///
/// Speed without changing a bit of that: stages are evaluated for eight
/// windows at once (`StageVectors`) while at least two of them are alive,
/// then per window, and a scale's
/// rows are split into bands that threads scan independently (integrals
/// restarted at each band: window sums are differences, exact in wrapping
/// arithmetic), their candidates concatenated in row order.
/// A rectangle in image pixels.
public struct PixelRect: Sendable, Equatable {
    public var x, y, width, height: Int
    public init(x: Int, y: Int, width: Int, height: Int) { self.x = x; self.y = y; self.width = width; self.height = height }
}

public struct CascadeDetector: Sendable {
    public let cascade: HaarCascade
    /// Stumps flattened; each feature's rectangles 3 per feature (weight 0 padding).
    let stumpFeature: [Int32], stumpThreshold: [Float], stumpLeft: [Float], stumpRight: [Float]
    let stageCount: [Int32], stageThreshold: [Float]
    let rects: [HaarCascade.Rect]
    /// Index of each stage's first stump.
    let stageStart: [Int32]

    public init(_ cascade: HaarCascade) {
        precondition(cascade.problem() == nil, "CascadeDetector: invalid cascade")
        self.cascade = cascade
        stumpFeature = cascade.stumps.map { Int32($0.feature) }
        stumpThreshold = cascade.stumps.map(\.threshold)
        stumpLeft = cascade.stumps.map(\.left)
        stumpRight = cascade.stumps.map(\.right)
        stageCount = cascade.stages.map { Int32($0.count) }
        stageThreshold = cascade.stages.map(\.threshold)
        var r: [HaarCascade.Rect] = []
        for f in cascade.features {
            for k in 0..<3 { r.append(k < f.count ? f[k] : HaarCascade.Rect(x: 0, y: 0, width: 0, height: 0, weight: 0)) }
        }
        rects = r
        var start: [Int32] = [], k: Int32 = 0
        for st in cascade.stages { start.append(k); k += Int32(st.count) }
        stageStart = start
    }

    /// The scales OpenCV scans for an image of this size (as float factors).
    func scales(width: Int, height: Int, scaleFactor: Double) -> [Float] {
        let W = cascade.windowWidth, H = cascade.windowHeight
        guard width >= W, height >= H else { return [] }
        var all: [Float] = []
        var factor = 1.0
        while all.count < 10_000 {
            let ww = lrint(Double(W) * factor), wh = lrint(Double(H) * factor)
            if ww > width || wh > height { break }
            all.append(Float(factor))
            factor *= scaleFactor
        }
        var out: [Float] = []
        for s in all {
            // The window size again, now in float arithmetic (int * float in OpenCV).
            let ww = Int(lrintf(Float(W) * s)), wh = Int(lrintf(Float(H) * s))
            if ww > width || wh > height { break }
            out.append(s)
        }
        return out
    }

    /// What one scale scans: the resized image's size, the window step, and
    /// the window rows and columns that can hold a face. When the image is
    /// known to be black outside a rectangle (deepface's frame), windows whose
    /// variance rectangle lies wholly in the black are left out: OpenCV
    /// rejects them (zero variance) without effect on the others, so the
    /// result is the same without their work.
    struct ScaleScan: Sendable {
        let scale: Float
        let resize: LinearExactResize
        let step: Int
        /// Window rows (on the step grid) and window indices (x = index·step) to evaluate.
        let rows: Range<Int>
        let windows: Range<Int>
    }

    func scaleScan(_ gray: GrayImage, scale s: Float, content: PixelRect?) -> ScaleScan? {
        let W = cascade.windowWidth, H = cascade.windowHeight
        let sw = Int(lrintf(Float(gray.width) / s)), sh = Int(lrintf(Float(gray.height) / s))
        let workW = max(sw + 1 - W, 0), workH = max(sh + 1 - H, 0)
        guard sw > 0, sh > 0, workW > 0, workH > 0 else { return nil }
        let step = s >= 2 ? 1 : 2
        let resize = LinearExactResize(gray, width: sw, height: sh)
        // Leading and trailing output rows and columns that read only the black frame.
        var top = 0, bottom = sh, left = 0, right = sw
        if let c = content {
            while top < sh && resize.sourceRows(of: top).upperBound < c.y { top += 1 }
            while bottom > top && resize.sourceRows(of: bottom - 1).lowerBound >= c.y + c.height { bottom -= 1 }
            while left < sw && resize.sourceColumns(of: left).upperBound < c.x { left += 1 }
            while right > left && resize.sourceColumns(of: right - 1).lowerBound >= c.x + c.width { right -= 1 }
        }
        // A window's variance rectangle spans rows y+1 ... y+H-2 and columns x+1 ... x+W-2.
        func up(_ v: Int) -> Int { (max(0, v) + step - 1) / step * step }
        let rows = up(top - H + 2)..<min(workH, bottom - 1)
        let windows = (up(left - W + 2) / step)..<((min(workW, right - 1) + step - 1) / step)
        guard !rows.isEmpty, !windows.isEmpty else { return nil }
        return ScaleScan(scale: s, resize: resize, step: step, rows: rows, windows: windows)
    }

    /// A band of window rows of one scale: the unit threads share.
    struct Band: Sendable {
        let scan: ScaleScan
        let rows: Range<Int>
    }

    /// The bands of every scale, in scan order: one per scale on one
    /// thread; on more, tall scales are cut so that threads stay busy
    /// (not thinner than 48 window rows: each band recomputes the
    /// window-height rows of integral above its end).
    func bands(_ gray: GrayImage, scaleFactor: Double, threads: Int, content: PixelRect?) -> [Band] {
        var out: [Band] = []
        for s in scales(width: gray.width, height: gray.height, scaleFactor: scaleFactor) {
            guard let scan = scaleScan(gray, scale: s, content: content) else { continue }
            let rows = scan.rows.count
            let pieces = threads == 1 ? 1 : max(1, min(2 * threads, rows / 48))
            // Cut at multiples of the step, so bands visit exactly the rows one scan would.
            let rowsPerPiece = ((rows + pieces - 1) / pieces + scan.step - 1) / scan.step * scan.step
            var y = scan.rows.lowerBound
            while y < scan.rows.upperBound {
                out.append(Band(scan: scan, rows: y..<min(scan.rows.upperBound, y + rowsPerPiece)))
                y += rowsPerPiece
            }
        }
        return out
    }

    /// All windows of all scales that pass every stage, in OpenCV's one-thread order.
    /// With `measure`, also the share of the threads' time spent making the
    /// pyramid's rows and their integrals (the rest is the cascade);
    /// `exhausted` when the work bound stopped the search (see `scan`).
    package func candidates(_ gray: GrayImage, scaleFactor: Double, threads: Int = 1, content: PixelRect? = nil,
                    measure: Bool = false) -> (found: [Detection], pyramidShare: Double, exhausted: Bool) {
        let list = bands(gray, scaleFactor: scaleFactor, threads: threads, content: content)
        let results = BandResults(count: list.count)
        let work = { (i: Int) in
            var found: [Detection] = []
            let start = measure ? monotonicSeconds() : 0
            let (pyramid, exhausted) = scan(band: list[i], into: &found, measure: measure)
            results.set(i, found, seconds: measure ? monotonicSeconds() - start : 0, pyramidSeconds: pyramid, exhausted: exhausted)
        }
        if threads <= 1 || list.count <= 1 {
            while let i = results.claim() { work(i) }
        } else {
            // Each worker takes bands until none is left: fewer threads than
            // asked for (a pids limit) still do every band.
            Threads.run(workers: min(threads, list.count)) { _ in
                while let i = results.claim() { work(i) }
            }
        }
        return results.joined()
    }

    /// Raw detections before grouping (which compares every pair): Debian's
    /// cascades give at most 951 on the 64 photos of shared/faces; a hostile
    /// cascade that accepts every window gives millions (found by libFuzzer:
    /// a 40×48 photo took over 10 s in grouping).
    public static let maxCandidates = 20_000

    /// `content`: a rectangle outside which the image is known to be black
    /// (work is skipped there; the result is the same).
    /// Nil when a work bound stopped the search (a hostile cascade).
    public func detect(_ gray: GrayImage, scaleFactor: Double, minNeighbors: Int, withWeights: Bool, threads: Int = 1,
                       content: PixelRect? = nil) -> [Detection]? {
        let (found, _, exhausted) = candidates(gray, scaleFactor: scaleFactor, threads: threads, content: content)
        if exhausted || found.count > Self.maxCandidates { return nil }
        return RectangleGrouping.group(found, threshold: minNeighbors, eps: 0.2, useWeights: withWeights)
    }
}

/// Per-band candidate lists filled by worker threads, joined in band order.
final class BandResults: Sendable {
    private struct State {
        var lists: [[Detection]]
        var next = 0, seconds = 0.0, pyramidSeconds = 0.0, exhausted = false
    }
    private let state: Mutex<State>

    init(count: Int) { state = Mutex(State(lists: Array(repeating: [], count: count))) }

    func claim() -> Int? {
        state.withLock { s in
            guard !s.exhausted, s.next < s.lists.count else { return nil }
            s.next += 1
            return s.next - 1
        }
    }

    func set(_ i: Int, _ found: [Detection], seconds: Double, pyramidSeconds: Double, exhausted: Bool) {
        state.withLock { s in
            s.lists[i] = found; s.seconds += seconds; s.pyramidSeconds += pyramidSeconds
            s.exhausted = s.exhausted || exhausted
        }
    }

    func joined() -> (found: [Detection], pyramidShare: Double, exhausted: Bool) {
        state.withLock { ($0.lists.flatMap { $0 }, $0.seconds > 0 ? $0.pyramidSeconds / $0.seconds : 0, $0.exhausted) }
    }
}

