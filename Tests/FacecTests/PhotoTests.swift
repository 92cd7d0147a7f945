import Foundation
import Testing
import FacecRuntime
import FacecPipeline

/// End to end from JPEG: facec's decode + preprocessing + network against a
/// deepface-style reference (OpenCV decode, deepface resize/pad, /255,
/// TensorFlow), embeddings committed in Fixtures/deepid_photo_embeddings.json.
@Suite struct PhotoTests {
    struct Reference: Decodable {
        let embeddings: [String: [Float]]
    }

    @Test func deepIDEmbeddingsMatchDeepfacePipeline() throws {
        try #require(TestPaths.facesAvailable, "../shared/faces is absent: skipping photo tests")
        let ref = try JSONDecoder().decode(Reference.self, from: Data(contentsOf: URL(fileURLWithPath: TestPaths.fixture("deepid_photo_embeddings.json"))))
        #expect(ref.embeddings.count >= 60)
        let dir = TempDir()
        let model = try convertAndLoad(TestPaths.demoWeights, to: dir)
        let embedder = Embedder(model: model)
        let names = ref.embeddings.keys.sorted()
        var results: [Result<[FaceEmbedding], Error>] = []
        embedder.embedFacesInOrder(names.map { TestPaths.faces.appendingPathComponent($0).path }, mode: .skip, threads: 2) { results.append($1) }
        var worst = 1.0
        for (name, result) in zip(names, results) {
            let faces = try result.get()
            #expect(faces.count == 1)
            let e = try #require(faces.first).embedding
            let cos = cosineSimilarity(e, ref.embeddings[name]!)
            worst = min(worst, cos)
            #expect(cos >= 0.9999, "\(name): cosine similarity \(cos)")
        }
        print("photo end-to-end: \(names.count) photos, worst cosine similarity \(worst)")
    }

    @Test func preprocessingMatchesReferenceTensor() throws {
        try #require(TestPaths.facesAvailable, "../shared/faces is absent: skipping photo tests")
        let dir = TempDir()
        let model = try convertAndLoad(TestPaths.demoWeights, to: dir)
        let tensor = try Embedder(model: model).inputTensor(forImage: TestPaths.faces.appendingPathComponent("img1.jpg").path)
        let ref = try NPYFile.read(TestPaths.fixture("deepid_photo_inputs_sample.npy"))
        var maxDiff: Float = 0
        for i in tensor.indices { maxDiff = max(maxDiff, abs(tensor[i] - ref.values[i])) }
        #expect(maxDiff <= 1e-5, "max abs difference \(maxDiff)")
    }
}
