import Foundation

/// Writes dlib's serialization (dlib/serialize.h, dnn/core.h) from the
/// description of a network, so tests can make small dlib networks of any
/// shape: other architectures, unknown layers, other inputs and losses.
struct DlibTestWriter {
    var bytes: [UInt8] = []

    mutating func int(_ v: Int64) {
        var magnitude = v.magnitude
        var body: [UInt8] = []
        repeat { body.append(UInt8(magnitude & 0xFF)); magnitude >>= 8 } while magnitude != 0
        bytes.append(UInt8(body.count) | (v < 0 ? 0x80 : 0))
        bytes += body
    }
    mutating func int(_ v: Int) { int(Int64(v)) }
    mutating func string(_ s: String) { int(s.utf8.count); bytes += Array(s.utf8) }
    mutating func bool(_ b: Bool) { bytes.append(b ? UInt8(ascii: "1") : UInt8(ascii: "0")) }
    /// float_details: mantissa = frexp fraction × 2^24, exponent − 24.
    mutating func float(_ f: Float) {
        let e = f == 0 ? 0 : Int(f.exponent) + 1
        let mantissa = Int64((Double(f) * pow(2.0, Double(24 - e))).rounded())
        int(mantissa); int(Int64(e - 24))
    }
    mutating func tensor(_ dims: [Int], _ values: [Float]) {
        int(2); for d in dims { int(d) }
        for v in values { withUnsafeBytes(of: v.bitPattern.littleEndian) { bytes += $0 } }
    }
    mutating func alias(_ dims: [Int]) { int(1); for d in dims { int(d) } }

    enum Layer {
        case con(filters: Int, inChannels: Int, kernel: Int, stride: Int)
        case affine(channels: Int)
        case relu, tag
        case maxPool(window: Int, stride: Int), avgPool(window: Int, stride: Int), addPrev
        case fc(outputs: Int, inputs: Int)
        /// A layer of another name with no fields (e.g. "prelu_", "bn_con2").
        case other(String)
    }

    /// A whole network file: `layers` input side first, on
    /// `input_rgb_image_sized` (or `inputName`), under `loss`.
    static func network(_ layers: [Layer], input: Int = 150, inputName: String = "input_rgb_image_sized",
                        loss: String = "loss_metric_2") -> [UInt8] {
        var w = DlibTestWriter()
        w.int(1); w.string(loss)
        if loss == "loss_metric_2" { w.float(0.04); w.float(0.6) }
        // Wrapper versions, outermost first; the innermost layer is version 3.
        for layer in layers.dropFirst().reversed() { if case .tag = layer { w.int(1) } else { w.int(2) } }
        w.int(3)
        w.string(inputName)
        for m: Float in [122.782, 117.001, 104.298] { w.float(m) }
        w.int(input); w.int(input)
        for (i, layer) in layers.enumerated() {
            if case .tag = layer { continue }
            w.details(layer)
            for _ in 0..<3 { w.bool(i == 0) }
            for _ in 0..<3 { w.tensor([0, 0, 0, 0], []) }
            if i == 0 { w.int(1) }      // _sample_expansion_factor
        }
        return w.bytes
    }

    mutating func details(_ layer: Layer) {
        var seed: UInt64 = 7
        func values(_ n: Int) -> [Float] {
            (0..<n).map { _ in seed = seed &* 6364136223846793005 &+ 1442695040888963407; return Float(Int(seed >> 40) % 2001 - 1000) / 10000 }
        }
        switch layer {
        case .con(let n, let cin, let k, let s):
            string("con_4")
            tensor([n * cin * k * k + n, 1, 1, 1], values(n * cin * k * k + n))
            int(n); int(k); int(k); int(s); int(s)
            let pad = s != 1 ? 0 : k / 2
            int(pad); int(pad)
            alias([n, cin, k, k]); alias([1, n, 1, 1])
            for _ in 0..<4 { float(1) }
        case .affine(let c):
            string("affine_")
            tensor([2 * c, 1, 1, 1], values(2 * c))
            alias([1, c, 1, 1]); alias([1, c, 1, 1]); int(0)
        case .relu: string("relu_")
        case .tag: break
        case .maxPool(let k, let s), .avgPool(let k, let s):
            if case .maxPool = layer { string("max_pool_2") } else { string("avg_pool_2") }
            int(k); int(k); int(s); int(s)
            let pad = k == 0 || s != 1 ? 0 : k / 2
            int(pad); int(pad)
        case .addPrev: string("add_prev_")
        case .fc(let o, let i):
            string("fc_2"); int(o); int(i)
            tensor([i, o, 1, 1], values(i * o))
            alias([i, o, 1, 1]); alias([0, 0, 0, 0]); int(1)
            for _ in 0..<4 { float(1) }
        case .other(let name): string(name)
        }
    }
}
