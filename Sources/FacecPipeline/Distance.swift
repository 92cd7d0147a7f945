import FacecCore
import FacecFormat
#if canImport(Glibc)
import Glibc
#endif

/// deepface's distances (deepface/modules/verification.py): computed in
/// Double as numpy does, rounded to 6 decimals as deepface rounds them.
public enum Distance {
    public static func distance(_ a: [Float], _ b: [Float], metric: Metric) -> Double {
        precondition(a.count == b.count, "embeddings of different sizes")
        switch metric {
        case .cosine, .angular:
            var dot = 0.0, na = 0.0, nb = 0.0
            for i in a.indices {
                dot += Double(a[i]) * Double(b[i]); na += Double(a[i]) * Double(a[i]); nb += Double(b[i]) * Double(b[i])
            }
            // deepface would give NaN for an all-zero embedding; call it
            // maximally distant instead so the pair is simply not verified.
            guard na > 0, nb > 0 else { return 1 }
            let similarity = dot / (na.squareRoot() * nb.squareRoot())
            if metric == .cosine { return round6(1 - similarity) }
            return round6(angular(similarity: similarity))
        case .euclidean:
            return round6(euclid(a.map(Double.init), b.map(Double.init)))
        case .euclideanL2:
            return round6(euclid(normalized(a), normalized(b)))
        }
    }

    /// deepface's angular distance of a cosine similarity: arccos of it
    /// clipped to [−1, 1], over π.
    public static func angular(similarity: Double) -> Double {
        acos(min(1, max(-1, similarity))) / Double.pi
    }

    /// Why `e` has no meaningful distance under `metric` (nil when it has):
    /// a NaN or an infinity, or for cosine an all-zero vector, whose distance
    /// deepface computes as NaN. `verify` and the C API refuse such inputs;
    /// `distance` itself calls a zero vector maximally distant (1), which is
    /// what a gallery search needs.
    public static func problem(_ e: [Float], metric: Metric) -> String? {
        guard e.allSatisfy(\.isFinite) else { return "holds a NaN or an infinity" }
        if metric == .cosine || metric == .angular, e.allSatisfy({ $0 == 0 }) {
            return "is all zeros, so its \(metric.rawValue) distance is undefined (deepface gives NaN)"
        }
        return nil
    }

    private static func normalized(_ x: [Float]) -> [Double] {
        let norm = (x.reduce(0.0) { $0 + Double($1) * Double($1) }).squareRoot()
        return x.map { Double($0) / (norm + 1e-10) }
    }

    private static func euclid(_ a: [Double], _ b: [Double]) -> Double {
        var s = 0.0
        for i in a.indices { let d = a[i] - b[i]; s += d * d }
        return s.squareRoot()
    }

    public static func round6(_ x: Double) -> Double { (x * 1e6).rounded(.toNearestOrEven) / 1e6 }
}

/// A distance compared against the model's (or the user's) threshold.
public struct Verdict: Sendable {
    public let distance: Double
    public let threshold: Double
    public let metric: Metric
    public var verified: Bool { distance <= threshold }
}

public enum Thresholds {
    /// The user's threshold if given, else the one stored in the model.
    public static func resolve(_ header: ModelHeader, metric: Metric, override: Double?, modelPath: String) throws -> Double {
        if let t = override {
            guard t.isFinite, t >= 0 else { throw FacecError(.argument, modelPath, "--threshold must be a non-negative number") }
            return t
        }
        guard let t = header.thresholds[metric] else {
            // Model files carry the thresholds of the metrics every facec
            // reads; angular's comes from deepface's table for deepface's own
            // models, so that new files stay readable by older runtimes (a
            // threshold code they do not know would be refused).
            if let t = DeepfaceModels.entry(for: header)?.thresholds[metric] { return t }
            throw FacecError(.argument, modelPath, "the model has no threshold for \(metric.rawValue); pass --threshold")
        }
        // Stored as float32: take the decimal the user wrote (0.015, not
        // 0.014999999664723873).
        return Double("\(t)") ?? Double(t)
    }
}
