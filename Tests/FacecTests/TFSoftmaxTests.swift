import Foundation
import Testing
@testable import FacecDetectKernels

/// TFSoftmax against TensorFlow's own softmax (scripts/fixtures/generate_tf_softmax.py,
/// Fixtures/tfsoftmax): 4096 logit pairs, a spread and the saturated range the
/// P-Net gives faces. TF's reciprocal starts from the CPU's `rcpss` estimate,
/// whose table is the vendor's: on a CPU of the fixture's vendor the outputs
/// must be TF's (every face probability above 0.5, which is all mtcnn
/// compares, to the bit); elsewhere within 2 ulps.
@Suite struct TFSoftmaxTests {
    static func vendor() -> String {
        let info = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? ""
        return info.split(separator: "\n").first { $0.hasPrefix("vendor_id") }?.split(separator: ":").last?
            .trimmingCharacters(in: .whitespaces) ?? "unknown"
    }

    @Test func twoClassSoftmaxIsTensorFlows() throws {
        let logits = try NPY.read(TestPaths.fixture("tfsoftmax/logits.npy"))
        let tf = try NPY.read(TestPaths.fixture("tfsoftmax/softmax.npy"))
        let fixtureVendor = try String(contentsOfFile: TestPaths.fixture("tfsoftmax/cpu.txt"), encoding: .utf8)
            .trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(logits.shape == [4096, 2] && tf.shape == [4096, 2])
        var same = 0, sameFaces = 0, faces = 0, worstUlps = 0
        for i in 0..<4096 {
            let l0 = Float(logits.values[2 * i]), l1 = Float(logits.values[2 * i + 1])
            let want = Float(tf.values[2 * i + 1])
            let got = TFSoftmax.secondOfTwo(l0, l1)
            let ulps = abs(Int(got.bitPattern) - Int(want.bitPattern))
            worstUlps = max(worstUlps, ulps)
            same += ulps == 0 ? 1 : 0
            if want > 0.5 { faces += 1; sameFaces += ulps == 0 ? 1 : 0 }
        }
        print("TFSoftmax: \(same) of 4096 face probabilities identical to TF's (\(sameFaces) of \(faces) above 0.5), worst \(worstUlps) ulps; CPU \(Self.vendor()), fixture \(fixtureVendor)")
        #if arch(x86_64)
        if Self.vendor() == fixtureVendor {
            #expect(sameFaces == faces)
            #expect(same >= 4090)
            return
        }
        #endif
        #expect(worstUlps <= 2)
    }

    /// Eigen's exp (no FMA) is within an ulp or two of the true exponential
    /// across the range softmax uses, and exact at 0.
    @Test func eigenExpStaysCloseToExp() {
        #expect(TFSoftmax.exp(0) == 1)
        var worst: Float = 0
        var x: Float = -80
        while x <= 0 {
            let want = Float(Foundation.exp(Double(x)))
            worst = max(worst, abs(TFSoftmax.exp(x) - want) / want)
            x += 0.01
        }
        #expect(worst < 4e-7, "relative error \(worst)")
    }
}
