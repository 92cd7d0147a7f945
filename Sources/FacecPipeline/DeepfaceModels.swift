import FacecCore
import FacecFormat
#if canImport(Glibc)
import Glibc
#endif

/// deepface 0.0.103's per-model tables for the models facec runs: the
/// thresholds (deepface/config/threshold.py) and the logistic mapping from a
/// distance to a confidence (deepface/config/confidence.py, fitted by
/// deepface's experiments/distance-to-confidence.ipynb). Numbers are data,
/// copied digit for digit.
public enum DeepfaceModels {
    /// One metric's confidence mapping: z = w·d + b (d divided by
    /// `normalizer` when it exceeds 1), sigmoid, then re-spread so verified
    /// pairs land in 51–100 and others in 0–49.
    public struct ConfidenceFit: Sendable {
        let w, b, normalizer, maxTrue, minTrue, maxFalse, minFalse: Double
    }

    public struct Entry: Sendable {
        public let thresholds: [Metric: Double]
        let fits: [Metric: ConfidenceFit]
    }

    package static let table: [String: Entry] = [
        "VGG-Face": Entry(
            thresholds: [.cosine: 0.68, .euclidean: 1.17, .euclideanL2: 1.17, .angular: 0.39],
            fits: [
                .cosine: .init(w: -6.61254026479904, b: 3.145549102667549, normalizer: 0.979183, maxTrue: 88.28484099529868,
                               minTrue: 20.787978733113846, maxFalse: 20.556681914175016, minFalse: 3.457832575746455),
                .euclidean: .init(w: -6.505124425537925, b: 3.8912125488666436, normalizer: 1.399416, maxTrue: 76.47012030708339,
                                  minTrue: 17.794898757517597, maxFalse: 16.443735520230746, minFalse: 6.82484246933999),
                .euclideanL2: .init(w: -6.505124425537925, b: 3.8912125488666436, normalizer: 1.399416, maxTrue: 76.47012030708339,
                                    minTrue: 17.794898757517597, maxFalse: 16.443735520230746, minFalse: 6.82484246933999),
                .angular: .init(w: -5.035753663256314, b: 0.2961597285248822, normalizer: 0.493373, maxTrue: 34.230717614698825,
                                minTrue: 16.624506551373642, maxFalse: 15.49607745347531, minFalse: 10.080199045102233),
            ]),
        "DeepID": Entry(
            thresholds: [.cosine: 0.015, .euclidean: 45, .euclideanL2: 0.17, .angular: 0.04],
            fits: [
                .cosine: .init(w: -1.1109389867203003, b: -1.644356005882629, normalizer: 0.142463, maxTrue: 16.114369377586183,
                               minTrue: 15.966222060549578, maxFalse: 15.96057368926546, minFalse: 14.153198282635255),
                .euclidean: .init(w: -4.267900227772648, b: -0.11777629548659044, normalizer: 124.194689, maxTrue: 27.2342405984107,
                                  minTrue: 16.08201206739819, maxFalse: 15.90739039527823, minFalse: 1.230125408063358),
                .euclideanL2: .init(w: -3.6681410379067394, b: -0.9230555193862335, normalizer: 0.533784, maxTrue: 21.681829939622233,
                                    minTrue: 17.57160935306287, maxFalse: 17.548244679217202, minFalse: 5.309829288484883),
                .angular: .init(w: -0.2707576106983799, b: -3.87004749575164, normalizer: 0.171993, maxTrue: 2.02619851743467,
                                minTrue: 2.0220784432439474, maxFalse: 2.021498115793411, minFalse: 1.951974654804089),
            ]),
        "Dlib": Entry(
            thresholds: [.cosine: 0.07, .euclidean: 0.6, .euclideanL2: 0.4, .angular: 0.12],
            fits: [
                .cosine: .init(w: -3.7618087798972293, b: -0.6908814404797111, normalizer: 0.200732, maxTrue: 32.289077089161594,
                               minTrue: 27.84268789569509, maxFalse: 27.803329512485526, minFalse: 19.061842082779275),
                .euclidean: .init(w: -7.494007964438609, b: 3.9696154227506937, normalizer: 0.909856, maxTrue: 89.6022157357575,
                                  minTrue: 37.63548146988899, maxFalse: 36.791885490113046, minFalse: 5.474065355413035),
                .euclideanL2: .init(w: -7.104640497107913, b: 2.3288632189212457, normalizer: 0.633612, maxTrue: 76.39948218795206,
                                    minTrue: 37.84998375132765, maxFalse: 36.56103592414769, minFalse: 10.222692344960938),
                .angular: .init(w: -3.2116944601651727, b: -0.5970349913114966, normalizer: 0.205221, maxTrue: 31.79313619700238,
                                minTrue: 27.2527288169969, maxFalse: 27.18852931051015, minFalse: 22.163871613552466),
            ]),
    ]

    /// deepface's entry for a model, if the model is deepface's: its name is
    /// one of deepface's and the thresholds it carries are deepface's for that
    /// name (VGG-Face's fc8 descriptor, also named "VGG-Face", has other
    /// thresholds and is not deepface's current model).
    public static func entry(for header: ModelHeader) -> Entry? {
        guard let e = table[header.modelName] else { return nil }
        for (metric, t) in header.thresholds where Double("\(t)") != e.thresholds[metric] { return nil }
        return e
    }

    /// deepface's confidence, 0–100, that a pair at `distance` is the same
    /// person (verification.find_confidence), and whether deepface returns
    /// it as a Python int (its clamps to 0, 49, 51 and 100 assign ints).
    /// Models deepface has no fit for get its neutral 51 or 49.
    public static func confidence(distance: Double, verified: Bool, metric: Metric, entry: Entry?) -> (value: Double, isInteger: Bool) {
        if distance <= 0 { return (verified ? 100 : 0, false) }
        guard let fit = entry?.fits[metric] else { return (verified ? 51 : 49, true) }
        let d = fit.normalizer > 1 ? distance / fit.normalizer : distance
        let z = fit.w * d + fit.b
        let confidence = 100 * sigmoid(z)
        let (minOriginal, maxOriginal, minTarget, maxTarget): (Double, Double, Double, Double) = verified
            ? (fit.minTrue, fit.maxTrue, max(51, fit.minTrue), 100)
            : (fit.minFalse, fit.maxFalse, 0, Double(min(49, Int(fit.maxFalse))))
        var spread = ((confidence - minOriginal) / (maxOriginal - minOriginal)) * (maxTarget - minTarget) + minTarget
        var isInteger = false
        if verified && spread < 51 { spread = 51; isInteger = true } else if !verified && spread > 49 { spread = 49; isInteger = true }
        if spread < 0 { spread = 0; isInteger = true } else if spread > 100 { spread = 100; isInteger = true }
        return (isInteger ? spread : pythonRound2(spread), isInteger)
    }

    /// deepface's numerically stable sigmoid.
    static func sigmoid(_ z: Double) -> Double {
        if z >= 0 { return 1 / (1 + exp(-z)) }
        let ez = exp(z)
        return 1 * ez / (1 + ez)
    }

    /// Python's round(x, 2): the exact binary value rounded to the nearest
    /// hundredth (ties to even), as the double nearest that decimal. The
    /// midpoint test uses a fused multiply-add, whose one rounding keeps the
    /// sign of x·100 − (k + ½) exact.
    package static func pythonRound2(_ x: Double) -> Double {
        guard x.isFinite else { return x }
        let k = (x * 100).rounded(.down)
        let side = fma(x, 100, -(k + 0.5))
        let n: Double
        if side > 0 { n = k + 1 } else if side < 0 { n = k } else { n = k.truncatingRemainder(dividingBy: 2) == 0 ? k : k + 1 }
        return n / 100
    }
}
