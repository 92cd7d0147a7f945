import FacecCore
import FacecDetectKernels
import FacecFormat
import FacecImage
#if canImport(Glibc)
import Glibc
#endif

/// deepface's "mtcnn" backend: PyPI mtcnn 1.0.0's `MTCNN().detect_faces` on
/// the photo in deepface's black frame (docs/mtcnn-spec.md), up to mtcnn's
/// rounded boxes and keypoints, in its order (O-Net score, highest first).
///
/// Work: the P-Net runs over every pyramid level in bands of output rows
/// (each band's input made from the photo as it goes, so memory stays in
/// proportion to a band, not to the framed photo), all bands of all levels
/// shared by the threads; the R- and O-Net crops in batches, also shared.
/// Every number follows mtcnn's arithmetic; band and batch boundaries do not
/// change a result (the P-Net's output rows depend only on their inputs).
final class MTCNNDetector: @unchecked Sendable {
    let spec: MTCNNSpec
    let pnet: MTCNNNetwork, rnet: MTCNNNetwork, onet: MTCNNNetwork

    /// Output rows per P-Net band: ~64 K output cells, at least 8 rows (a
    /// band recomputes 10 level rows of its neighbour: ~10% at this size).
    static let bandCells = 65_536
    /// Crops per R/O-Net batch.
    static let batchCrops = 32

    init(_ spec: MTCNNSpec, tensor: (Int) -> UnsafeBufferPointer<Float>) {
        self.spec = spec
        pnet = MTCNNNetwork(spec.pnet, tensor: tensor)
        rnet = MTCNNNetwork(spec.rnet, tensor: tensor)
        onet = MTCNNNetwork(spec.onet, tensor: tensor)
    }

    /// One face as mtcnn's `detect_faces` reports it, in the framed image.
    struct Face {
        /// `box`: x, y, w, h, rounded half to even from the clipped corners.
        var x, y, width, height: Int
        var confidence: Double
        /// Keypoints, rounded half to even: left eye, right eye (mtcnn's
        /// names: the left one of the image first), nose, mouth left, right.
        var keypoints: [PixelPoint]
    }

    func detect(_ photo: DecodedImage, threads: Int) -> (faces: [Face], image: MTCNNImage) {
        let image = MTCNNImage(photo)
        var candidates = proposals(image, threads: threads)
        candidates = MTCNNBoxes.suppress(candidates, threshold: 0.7, overlap: .union, sortFirst: true).map(MTCNNBoxes.squared)
        guard !candidates.isEmpty else { return ([], image) }
        candidates = refine(image, candidates, net: rnet, threads: threads, threshold: spec.thresholds[1])
        candidates = MTCNNBoxes.suppress(candidates, threshold: 0.7, overlap: .union, sortFirst: true).map(MTCNNBoxes.squared)
        guard !candidates.isEmpty else { return ([], image) }
        candidates = refine(image, candidates, net: onet, threads: threads, threshold: spec.thresholds[2])
        candidates = MTCNNBoxes.suppress(candidates, threshold: 0.7, overlap: .min, sortFirst: true)
        let maxX = Double(image.width - 1), maxY = Double(image.height - 1)
        let faces = candidates.map { c -> Face in
            let x1 = min(max(c.x1, 0), maxX), x2 = min(max(c.x2, 0), maxX)
            let y1 = min(max(c.y1, 0), maxY), y2 = min(max(c.y2, 0), maxY)
            func r(_ v: Double) -> Int { Int(v.rounded(.toNearestOrEven)) }
            let points = (0..<5).map { PixelPoint(x: r(c.landmarks[$0]), y: r(c.landmarks[5 + $0])) }
            return Face(x: r(x1), y: r(y1), width: r(x2 - x1), height: r(y2 - y1), confidence: c.score, keypoints: points)
        }
        return (faces, image)
    }

    /// The P-Net stage up to its per-level suppression: every level's
    /// proposals, largest level first.
    private func proposals(_ image: MTCNNImage, threads: Int) -> [MTCNNCandidate] {
        let scales = MTCNNBoxes.pyramidScales(width: image.width, height: image.height,
                                              minFaceSize: spec.minFaceSize, factor: spec.scaleFactor)
        struct Band { let level: Int; let rows: Range<Int> }
        struct Level { let scale: Double; let height: Int; let width: Int; let out: (h: Int, w: Int, c: Int) }
        var levels: [Level] = [], bands: [Band] = []
        for s in scales {
            // numpy's float64 shape times the scale, truncated by TF's int32 cast.
            let h = Int(Double(image.height) * s), w = Int(Double(image.width) * s)
            guard h > 0, w > 0, let out = pnet.outputShape(height: h, width: w), out.h > 0, out.w > 0 else { continue }
            let rows = max(8, Self.bandCells / out.w)
            var o = 0
            while o < out.h {
                bands.append(Band(level: levels.count, rows: o..<min(out.h, o + rows)))
                o += rows
            }
            levels.append(Level(scale: s, height: h, width: w, out: out))
        }
        // Biggest bands first, so the last ones to finish are small.
        let order = bands.indices.sorted { bands[$0].rows.count * levels[bands[$0].level].out.w > bands[$1].rows.count * levels[bands[$1].level].out.w }
        var found = [[MTCNNCandidate]](repeating: [], count: bands.count)
        let threshold = Float(spec.thresholds[0])
        found.withUnsafeMutableBufferPointer { results in
            let next = AtomicCounter()
            Threads.run(workers: min(threads, bands.count)) { _ in
                var buffers = Scratch()
                defer { buffers.release() }
                while true {
                    let k = next.increment()
                    if k >= order.count { return }
                    let band = bands[order[k]], level = levels[band.level]
                    // Input rows of the band: output row o reads rows 2o ..< 2o + 12 of the level.
                    let first = 2 * band.rows.lowerBound, last = min(level.height, 2 * band.rows.upperBound + 10)
                    let (inFirst, inLast) = TFImageOps.areaInputRows(inHeight: image.height, outHeight: level.height, rows: first..<last)
                    let floats = pnet.scratchFloats(height: last - first, width: level.width)
                    let (a, b, rowScratch) = buffers.reserve(floats, floats, (inLast - inFirst) * image.width * 3)
                    TFImageOps.resizeArea(image, outHeight: level.height, outWidth: level.width, rows: first..<last, scratch: rowScratch, into: a)
                    let out = pnet.run(batch: 1, height: last - first, width: level.width, a: a, b: b)
                    guard out.h == band.rows.count, out.w == level.out.w, out.c == 6 else { continue }
                    results[order[k]] = MTCNNBoxes.cells(out.output, rows: out.h, width: out.w, firstRow: band.rows.lowerBound, threshold: threshold)
                }
            }
        }
        var all: [MTCNNCandidate] = []
        for (i, level) in levels.enumerated() {
            let cells = bands.indices.filter { bands[$0].level == i }.flatMap { found[$0] }
            let scaled = MTCNNBoxes.scaled(cells, scale: level.scale)
            all += MTCNNBoxes.suppress(scaled, threshold: 0.5, overlap: .union, sortFirst: false)
        }
        return all
    }

    /// The R- or O-Net stage up to its threshold: each candidate cropped from
    /// the framed image (TF's crop_and_resize), scored, calibrated (and for
    /// the O-Net given its landmarks), kept when its score is above
    /// `threshold` (float64), in the input order.
    private func refine(_ image: MTCNNImage, _ boxes: [MTCNNCandidate], net: MTCNNNetwork, threads: Int, threshold: Double) -> [MTCNNCandidate] {
        let size = net.net.inputSize
        let batches = (boxes.count + Self.batchCrops - 1) / Self.batchCrops
        var results = [MTCNNCandidate?](repeating: nil, count: boxes.count)
        let H = Double(image.height), W = Double(image.width)
        results.withUnsafeMutableBufferPointer { out in
            let next = AtomicCounter()
            Threads.run(workers: min(threads, batches)) { _ in
                var buffers = Scratch()
                defer { buffers.release() }
                while true {
                    let k = next.increment()
                    if k >= batches { return }
                    let range = (k * Self.batchCrops)..<min(boxes.count, (k + 1) * Self.batchCrops)
                    let floats = net.scratchFloats(height: size, width: size, batch: range.count)
                    let (a, b, _) = buffers.reserve(floats, floats, 0)
                    for (j, i) in range.enumerated() {
                        let c = boxes[i]
                        // mtcnn: [y1/H, x1/W, y2/H, x2/W] in float64, then float32 for TF.
                        let box = (Float(c.y1 / H), Float(c.x1 / W), Float(c.y2 / H), Float(c.x2 / W))
                        TFImageOps.cropAndResize(image, box: box, size: size, into: a + j * size * size * 3)
                    }
                    let o = net.run(batch: range.count, height: size, width: size, a: a, b: b)
                    guard o.h == 1, o.w == 1 else { continue }
                    for (j, i) in range.enumerated() {
                        let heads = o.output + j * o.c
                        let score = Double(MTCNNBoxes.faceProbability(heads[o.c - 2], heads[o.c - 1]))
                        var c = boxes[i]
                        if o.c == 16 { c.landmarks = MTCNNBoxes.landmarks(heads + 4, in: c) }
                        c.score = score
                        c = MTCNNBoxes.calibrated(c, offsets: (heads[0], heads[1], heads[2], heads[3]))
                        if score > threshold { out[i] = c }
                    }
                }
            }
        }
        return results.compactMap { $0 }
    }
}

/// A worker's three buffers, grown as needed and reused across its tasks.
private struct Scratch {
    private var a: UnsafeMutablePointer<Float>?, b: UnsafeMutablePointer<Float>?, c: UnsafeMutablePointer<Float>?
    private var sizes = (0, 0, 0)

    mutating func reserve(_ na: Int, _ nb: Int, _ nc: Int) -> (UnsafeMutablePointer<Float>, UnsafeMutablePointer<Float>, UnsafeMutablePointer<Float>) {
        func grow(_ p: inout UnsafeMutablePointer<Float>?, _ have: inout Int, _ need: Int) {
            guard need > have || p == nil else { return }
            p?.deallocate()
            let n = max(need, 16) + need / 4
            p = .allocate(capacity: n)
            have = n
        }
        grow(&a, &sizes.0, na); grow(&b, &sizes.1, nb); grow(&c, &sizes.2, nc)
        return (a!, b!, c!)
    }

    func release() { a?.deallocate(); b?.deallocate(); c?.deallocate() }
}
