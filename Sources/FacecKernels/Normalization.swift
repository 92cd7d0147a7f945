/// L2 normalisation as deepface writes it: x / (‖x‖ + 1e-10), in Double.
public enum Normalization {
    public static func l2Normalize(_ x: inout [Float]) {
        let norm = (x.reduce(0.0) { $0 + Double($1) * Double($1) }).squareRoot()
        let inv = 1 / (norm + 1e-10)
        for i in x.indices { x[i] = Float(Double(x[i]) * inv) }
    }
}
