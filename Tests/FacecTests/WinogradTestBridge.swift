@testable import FacecGraph

/// The compile-time Winograd weight transform, for the kernel tests.
enum WinogradTestBridge {
    static func transform(_ hwio: [Float], cin: Int, cout: Int, cinPad: Int, coutPad: Int) -> [Float] {
        WinogradWeights.transform(hwio, cin: cin, cout: cout, cinPad: cinPad, coutPad: coutPad)
    }
}
