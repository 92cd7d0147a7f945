import Foundation
import Testing
@testable import FacecDetect

/// facec's port of mtcnn 1.0.0's box arithmetic against mtcnn's own
/// functions run on seeded inputs (scripts/fixtures/generate_mtcnn_boxes.py):
/// every float64 equal.
@Suite struct MTCNNBoxesTests {
    static var doc: [String: Any] {
        let url = TestPaths.fixtures.appendingPathComponent("mtcnn/boxes.json")
        return try! JSONSerialization.jsonObject(with: Data(contentsOf: url)) as! [String: Any]
    }

    static func cases(_ key: String) -> [[String: Any]] { doc[key] as! [[String: Any]] }
    /// The generator writes every float64 as repr text (exact; Foundation's
    /// JSON number parsing is not correctly rounded).
    static func number(_ v: Any?) -> Double { Double(v as! String)! }
    static func rows(_ v: Any?) -> [[Double]] { (v as! [[Any]]).map { $0.map(number) } }
    static func numbers(_ v: Any?) -> [Double] { (v as! [Any]).map(number) }

    /// mtcnn's rows are [image, x1, y1, x2, y2, score, landmarks...].
    static func candidates(_ rows: [[Double]]) -> [MTCNNCandidate] {
        rows.map { MTCNNCandidate(x1: $0[1], y1: $0[2], x2: $0[3], y2: $0[4], score: $0[5], landmarks: Array($0.dropFirst(6))) }
    }

    @Test func pyramidScales() {
        for c in Self.cases("scales") {
            let got = MTCNNBoxes.pyramidScales(width: c["width"] as! Int, height: c["height"] as! Int)
            #expect(got == Self.numbers(c["scales"]), "\(c["width"]!)×\(c["height"]!)")
        }
    }

    @Test func pnetProposals() {
        for c in Self.cases("pnet") {
            let reg = Self.numbers(c["reg"]).map(Float.init), prob = Self.numbers(c["prob"]).map(Float.init)
            let got = reg.withUnsafeBufferPointer { r in
                prob.withUnsafeBufferPointer { p in
                    MTCNNBoxes.proposals(reg: r.baseAddress!, prob: p.baseAddress!, height: c["height"] as! Int,
                                         width: c["width"] as! Int, scale: Self.number(c["scale"]))
                }
            }
            #expect(got == Self.candidates(Self.rows(c["boxes"])))
        }
    }

    @Test func suppression() {
        for c in Self.cases("nms") {
            let overlap: MTCNNBoxes.Overlap = c["method"] as! String == "min" ? .min : .union
            let got = MTCNNBoxes.suppress(Self.candidates(Self.rows(c["boxes"])), threshold: Self.number(c["threshold"]),
                                          overlap: overlap, sortFirst: c["sort"] as! Bool)
            let want = Self.candidates(Self.rows(c["kept"]))
            #expect(got == want, "\(c["method"]!) \(c["threshold"]!): kept \(got.count), mtcnn \(want.count)")
        }
    }

    @Test func squaringCalibrationAndLandmarks() {
        let s = Self.cases("square")[0]
        #expect(Self.candidates(Self.rows(s["boxes"])).map(MTCNNBoxes.squared) == Self.candidates(Self.rows(s["squared"])))
        let c = Self.cases("calibrate")[0]
        let offsets = Self.rows(c["offsets"]).map { $0.map(Float.init) }
        let calibrated = zip(Self.candidates(Self.rows(c["boxes"])), offsets).map { MTCNNBoxes.calibrated($0, offsets: ($1[0], $1[1], $1[2], $1[3])) }
        #expect(calibrated == Self.candidates(Self.rows(c["calibrated"])))
        let l = Self.cases("landmarks")[0]
        let boxes = Self.candidates(Self.rows(l["boxes"]))
        for (i, (box, relative)) in zip(boxes, Self.rows(l["relative"])).enumerated() {
            let got = relative.map(Float.init).withUnsafeBufferPointer { MTCNNBoxes.landmarks($0.baseAddress!, in: box) }
            #expect(got == Self.rows(l["landmarks"])[i], "row \(i)")
        }
    }
}
