import Foundation
import FacecCore
import FacecPipeline
import Testing

/// deepface's distance → confidence mapping (DeepfaceModels) against deepface
/// 0.0.103's own `find_confidence`, recorded over a grid of distances for the
/// three models facec runs by scripts/fixtures/generate_python_api.py
/// (Tests/python/fixtures/deepface_api.json): value and Python type.
@Suite struct ConfidenceTests {
    static let reference = TestPaths.repo.appendingPathComponent("Tests/python/fixtures/deepface_api.json")

    @Test func confidenceIsDeepfacesForEveryModelAndMetric() throws {
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: Self.reference)) as! [String: Any]
        let grid = (json["confidence"] as! [String: Any])["grid"] as! [[String: Any]]
        var checked = 0
        for g in grid {
            let name = g["model"] as! String, metric = Metric(rawValue: g["metric"] as! String)!
            let entry = try #require(DeepfaceModels.table[name])
            #expect(entry.thresholds[metric] == g["threshold"] as? Double)
            let distances = g["distances"] as! [Double]
            for (verified, key) in [(true, "verified_true"), (false, "verified_false")] {
                for (d, want) in zip(distances, g[key] as! [NSNumber]) {
                    let got = DeepfaceModels.confidence(distance: d, verified: verified, metric: metric, entry: entry)
                    // JSON keeps Python's int/float: an int is written without a point.
                    let wantInteger = !["d", "f"].contains(String(cString: want.objCType))
                    #expect(got.value == want.doubleValue && got.isInteger == wantInteger, "\(name) \(metric) \(d) \(verified)")
                    checked += 1
                }
            }
        }
        #expect(checked == 3 * 4 * 2 * 38)
        // A model deepface has no fit for: its neutral 51 / 49, as ints.
        #expect(DeepfaceModels.confidence(distance: 0.3, verified: true, metric: .cosine, entry: nil) == (51, true))
        #expect(DeepfaceModels.confidence(distance: 0.3, verified: false, metric: .cosine, entry: nil) == (49, true))
    }

    @Test func pythonRoundingToHundredthsIsExact() {
        // Python: round(2.675, 2) == 2.67 (the double is below 2.675), round(0.125, 2) == 0.12 (a tie, to even).
        #expect(DeepfaceModels.pythonRound2(2.675) == 2.67)
        #expect(DeepfaceModels.pythonRound2(0.125) == 0.12)
        #expect(DeepfaceModels.pythonRound2(0.375) == 0.38)
        #expect(DeepfaceModels.pythonRound2(80.934999999) == 80.93)
    }
}
