import Foundation
import Testing
@testable import FacecDetectKernels
import FacecPipeline

/// TensorFlow's resize_area and crop_and_resize as facec ports them
/// (mtcnn's pyramid and its R-/O-Net crops), against TF 2.21's own outputs
/// (scripts/fixtures/generate_tf_image_ops.py): bit for bit.
@Suite struct TFImageOpsTests {
    static let dir = TestPaths.fixtures.appendingPathComponent("tfimage")

    static func npy(_ name: String) throws -> NPYFile { try NPYFile.read(dir.appendingPathComponent(name).path) }

    /// Elements whose bits differ, and the largest difference.
    static func mismatch(_ got: [Float], _ want: [Float]) -> (count: Int, worst: Float) {
        var count = 0, worst: Float = 0
        for (g, w) in zip(got, want) where g.bitPattern != w.bitPattern {
            count += 1
            worst = max(worst, abs(g - w))
        }
        return (count + abs(got.count - want.count), worst)
    }

    @Test(arguments: ["37x53", "26x37", "18x26", "13x18", "9x13", "6x9", "22x15", "12x12", "1x1"])
    func resizeAreaIsTensorFlows(_ size: String) throws {
        let input = try Self.npy("input.npy"), want = try Self.npy("area_\(size).npy")
        let (oh, ow) = (want.shape[0], want.shape[1])
        var got = [Float](repeating: .nan, count: oh * ow * 3)
        input.values.withUnsafeBufferPointer { src in
            got.withUnsafeMutableBufferPointer {
                TFImageOps.resizeArea(src.baseAddress!, height: input.shape[0], width: input.shape[1], channels: 3,
                                      outHeight: oh, outWidth: ow, into: $0.baseAddress!)
            }
        }
        let m = Self.mismatch(got, want.values)
        #expect(m.count == 0, "\(size): \(m.count) values differ from TF's, worst by \(m.worst)")
    }

    @Test(arguments: [24, 48])
    func cropAndResizeIsTensorFlows(_ size: Int) throws {
        let input = try Self.npy("input.npy"), boxes = try Self.npy("boxes.npy"), want = try Self.npy("crops_\(size).npy")
        let (h, w) = (input.shape[0], input.shape[1])
        let count = want.shape[0], per = size * size * 3
        var got = [Float](repeating: .nan, count: count * per)
        for b in 0..<count {
            // As mtcnn hands them to TF: y1/H, x1/W, y2/H, x2/W in float64, then float32.
            let v = (0..<4).map { Double(boxes.values[4 * b + $0]) }
            let box = (Float(v[0] / Double(h)), Float(v[1] / Double(w)), Float(v[2] / Double(h)), Float(v[3] / Double(w)))
            input.values.withUnsafeBufferPointer { src in
                got.withUnsafeMutableBufferPointer {
                    TFImageOps.cropAndResize(src.baseAddress!, height: h, width: w, channels: 3, box: box, size: size,
                                             into: $0.baseAddress! + b * per)
                }
            }
        }
        let m = Self.mismatch(got, want.values)
        #expect(m.count == 0, "\(size)×\(size): \(m.count) values differ from TF's, worst by \(m.worst)")
    }
}
