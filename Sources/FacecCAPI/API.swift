import CFacecAPI
import FacecCore
import FacecDetect
import FacecFormat
import FacecImage
import FacecRuntime
import FacecPipeline
#if canImport(Glibc)
import Glibc
#endif

// The functions of include/facec.h (see there for the contract). Handles are
// retained Swift objects behind opaque pointers, known to `HandleRegistry`;
// every entry point checks its pointers (a closed or foreign handle is
// refused, not followed) and sizes, and reports failures as a status and a
// last-error line, never by trapping.

/// Written once (lazily, under the runtime's once-guard) and only read after.
nonisolated(unsafe) private let versionText: UnsafeMutablePointer<CChar> = strdup("facec 0.1.0")

@_cdecl("facec_version")
public func facec_version() -> UnsafePointer<CChar> { UnsafePointer(versionText) }

private func argument(_ message: String) -> APIError { APIError(FACEC_ERROR_ARGUMENT, message) }


@_cdecl("facec_model_open")
public func facec_model_open(_ path: UnsafePointer<CChar>?, _ out: UnsafeMutablePointer<OpaquePointer?>?) -> facec_status {
    out?.pointee = nil
    return guarded {
        guard let path, let out else { throw argument("facec_model_open: path and model must not be NULL") }
        let p = String(cString: path)
        // Model(path:) checks structure, checksums and every kernel's plan.
        let handle = ModelHandle(model: try Model(path: p), path: p)
        out.pointee = HandleRegistry.register(handle, as: .model)
    }
}

@_cdecl("facec_model_close")
public func facec_model_close(_ model: OpaquePointer?) { HandleRegistry.release(model, .model) }

private func modelHandle(_ p: OpaquePointer?) -> ModelHandle? { HandleRegistry.object(p, .model, ModelHandle.self) }

@_cdecl("facec_model_dim")
public func facec_model_dim(_ model: OpaquePointer?) -> Int { modelHandle(model)?.dimension ?? 0 }

@_cdecl("facec_model_has_detector")
public func facec_model_has_detector(_ model: OpaquePointer?) -> Int32 { modelHandle(model)?.model.header.detector == nil ? 0 : 1 }

@_cdecl("facec_model_detector")
public func facec_model_detector(_ model: OpaquePointer?) -> UnsafePointer<CChar>? { modelHandle(model).map { UnsafePointer($0.detectorKind) } }

@_cdecl("facec_model_name")
public func facec_model_name(_ model: OpaquePointer?) -> UnsafePointer<CChar>? { modelHandle(model).map { UnsafePointer($0.name) } }

private func metric(_ m: facec_metric) throws(APIError) -> Metric {
    switch m {
    case FACEC_COSINE: return .cosine
    case FACEC_EUCLIDEAN: return .euclidean
    case FACEC_EUCLIDEAN_L2: return .euclideanL2
    case FACEC_ANGULAR: return .angular
    default: throw argument("unknown metric \(m.rawValue) (FACEC_COSINE, FACEC_EUCLIDEAN, FACEC_EUCLIDEAN_L2 or FACEC_ANGULAR)")
    }
}

@_cdecl("facec_model_threshold")
public func facec_model_threshold(_ model: OpaquePointer?, _ m: facec_metric, _ out: UnsafeMutablePointer<Double>?) -> facec_status {
    guarded {
        guard let handle = modelHandle(model), let out else { throw argument("facec_model_threshold: model must be an open model and threshold not NULL") }
        out.pointee = try Thresholds.resolve(handle.model.header, metric: try metric(m), override: nil, modelPath: handle.path)
    }
}

@_cdecl("facec_session_open")
public func facec_session_open(_ model: OpaquePointer?, _ threads: Int32, _ out: UnsafeMutablePointer<OpaquePointer?>?) -> facec_status {
    out?.pointee = nil
    return guarded {
        guard let handle = modelHandle(model), let out else { throw argument("facec_session_open: model must be an open model and session not NULL") }
        guard threads >= 1 && threads <= Threads.limit else { throw argument("facec_session_open: threads must be 1 to \(Threads.limit) (got \(threads))") }
        let session = SessionHandle(owner: handle, threads: Int(threads))
        out.pointee = HandleRegistry.register(session, as: .session)
    }
}

@_cdecl("facec_session_close")
public func facec_session_close(_ session: OpaquePointer?) { HandleRegistry.release(session, .session) }

private func sessionHandle(_ p: OpaquePointer?) -> SessionHandle? { HandleRegistry.object(p, .session, SessionHandle.self) }

/// The image behind a file path, a pixel buffer or encoded bytes.
private enum Source {
    case file(String)
    case pixels(DecodedImage, name: String)

    /// The photo itself (decoding a file) and the name errors quote.
    func decoded() throws -> (DecodedImage, String) {
        switch self {
        case .file(let path): return (try ImageDecoder.decodeFile(path), path)
        case .pixels(let image, let name): return (image, name)
        }
    }
}

/// Decodes an encoded photo the caller holds in memory.
private func encoded(_ data: UnsafeRawPointer?, _ size: Int) throws -> Source {
    guard let data else { throw argument("data must not be NULL") }
    guard size > 0 else { throw argument("size must be positive (an empty buffer is no image)") }
    let name = "<memory>"
    return .pixels(try ImageDecoder.decode(UnsafeRawBufferPointer(start: data, count: size), name: name), name: name)
}

/// Copies caller pixels into the runtime's RGB image after checking every size.
private func image(_ pixels: UnsafePointer<UInt8>?, _ width: Int32, _ height: Int32, _ stride: Int,
                   _ order: facec_pixel_order) throws(APIError) -> DecodedImage {
    guard let pixels else { throw argument("pixels must not be NULL") }
    guard width > 0, height > 0 else { throw argument("image size \(width)x\(height): width and height must be positive") }
    let w = Int(width), h = Int(height)
    guard w * h <= ImageDecoder.defaultMaxPixels else {
        throw APIError(FACEC_ERROR_IMAGE, "image of \(w)x\(h) pixels is larger than the limit of \(ImageDecoder.defaultMaxPixels) pixels")
    }
    guard stride >= 3 * w else { throw argument("stride \(stride) is less than 3 × width (\(3 * w) bytes)") }
    // The rows must fit in an address space (47 bits): a larger stride is a
    // caller's mistake whose offsets would overflow.
    guard stride <= ((1 << 47) - 3 * w) / max(1, h - 1) else {
        throw argument("stride \(stride) × height \(h) does not fit in memory")
    }
    guard order == FACEC_RGB || order == FACEC_BGR else { throw argument("unknown pixel order \(order.rawValue) (FACEC_RGB or FACEC_BGR)") }
    var rgb = [UInt8](repeating: 0, count: w * h * 3)
    rgb.withUnsafeMutableBufferPointer { dst in
        for y in 0..<h {
            let row = pixels + y * stride, out = dst.baseAddress! + y * w * 3
            if order == FACEC_RGB {
                out.update(from: row, count: w * 3)
            } else {
                for x in 0..<w { out[3 * x] = row[3 * x + 2]; out[3 * x + 1] = row[3 * x + 1]; out[3 * x + 2] = row[3 * x] }
            }
        }
    }
    return DecodedImage(width: w, height: h, pixels: rgb)
}

/// Embeds (or only detects) the faces of one image into a new facec_faces.
private func faces(_ session: OpaquePointer?, _ source: () throws -> Source, flags: UInt32, embed: Bool,
                   _ out: UnsafeMutablePointer<OpaquePointer?>?) -> facec_status {
    out?.pointee = nil
    return guarded {
        guard let s = sessionHandle(session), let out else { throw argument("session must be an open session and faces not NULL") }
        // A session's activation memory serves one call at a time; a second
        // thread would silently corrupt the first one's result.
        guard s.enter() else { throw argument("the session is in use by another thread (open one session per thread)") }
        defer { s.leave() }
        let keepCrops = flags & UInt32(FACEC_WITH_CROPS) != 0
        guard !(keepCrops && embed) else { throw argument("FACEC_WITH_CROPS is for facec_detect_* (crops come with detection only)") }
        let mode = try s.owner.mode(flags: flags & ~UInt32(FACEC_WITH_CROPS), threads: s.threads)
        let result: FacesHandle
        if embed {
            let list: [FaceEmbedding]
            switch try source() {
            case .file(let path): list = try s.embedder.embedFaces(path, mode: mode, with: s.instance)
            case .pixels(let img, let name): list = try s.embedder.embedFaces(img, name: name, mode: mode, with: s.instance)
            }
            result = FacesHandle(areas: list.map { ($0.area, $0.confidence) }, embeddings: list.map(\.embedding), dimension: s.owner.dimension)
        } else {
            let (photo, name) = try source().decoded()
            let areas: [(FacialArea, Double)], crops: [DecodedImage]
            if case .detect(let detector, let enforce) = mode {
                let found = try detector.extractFaces(photo, path: name, enforce: enforce)
                (areas, crops) = (found.map { ($0.area, $0.confidence) }, found.map(\.crop))
            } else {
                (areas, crops) = ([(FacialArea(x: 0, y: 0, width: photo.width, height: photo.height), 0)], [photo])
            }
            result = FacesHandle(areas: areas, embeddings: nil, dimension: s.owner.dimension, crops: keepCrops ? crops : nil)
        }
        out.pointee = HandleRegistry.register(result, as: .faces)
    }
}

private func path(_ p: UnsafePointer<CChar>?) throws(APIError) -> Source {
    guard let p else { throw argument("path must not be NULL") }
    return .file(String(cString: p))
}

@_cdecl("facec_embed_file")
public func facec_embed_file(_ session: OpaquePointer?, _ p: UnsafePointer<CChar>?, _ flags: UInt32,
                             _ out: UnsafeMutablePointer<OpaquePointer?>?) -> facec_status {
    faces(session, { try path(p) }, flags: flags, embed: true, out)
}

@_cdecl("facec_embed_pixels")
public func facec_embed_pixels(_ session: OpaquePointer?, _ pixels: UnsafePointer<UInt8>?, _ width: Int32, _ height: Int32,
                               _ stride: Int, _ order: facec_pixel_order, _ flags: UInt32,
                               _ out: UnsafeMutablePointer<OpaquePointer?>?) -> facec_status {
    faces(session, { .pixels(try image(pixels, width, height, stride, order), name: "<pixels>") }, flags: flags, embed: true, out)
}

@_cdecl("facec_embed_memory")
public func facec_embed_memory(_ session: OpaquePointer?, _ data: UnsafeRawPointer?, _ size: Int, _ flags: UInt32,
                               _ out: UnsafeMutablePointer<OpaquePointer?>?) -> facec_status {
    faces(session, { try encoded(data, size) }, flags: flags, embed: true, out)
}

@_cdecl("facec_detect_memory")
public func facec_detect_memory(_ session: OpaquePointer?, _ data: UnsafeRawPointer?, _ size: Int, _ flags: UInt32,
                                _ out: UnsafeMutablePointer<OpaquePointer?>?) -> facec_status {
    faces(session, { try encoded(data, size) }, flags: flags, embed: false, out)
}

@_cdecl("facec_detect_file")
public func facec_detect_file(_ session: OpaquePointer?, _ p: UnsafePointer<CChar>?, _ flags: UInt32,
                              _ out: UnsafeMutablePointer<OpaquePointer?>?) -> facec_status {
    faces(session, { try path(p) }, flags: flags, embed: false, out)
}

@_cdecl("facec_detect_pixels")
public func facec_detect_pixels(_ session: OpaquePointer?, _ pixels: UnsafePointer<UInt8>?, _ width: Int32, _ height: Int32,
                                _ stride: Int, _ order: facec_pixel_order, _ flags: UInt32,
                                _ out: UnsafeMutablePointer<OpaquePointer?>?) -> facec_status {
    faces(session, { .pixels(try image(pixels, width, height, stride, order), name: "<pixels>") }, flags: flags, embed: false, out)
}

private func facesHandle(_ p: OpaquePointer?) -> FacesHandle? { HandleRegistry.object(p, .faces, FacesHandle.self) }

@_cdecl("facec_faces_count")
public func facec_faces_count(_ faces: OpaquePointer?) -> Int { facesHandle(faces)?.count ?? 0 }

@_cdecl("facec_faces_face")
public func facec_faces_face(_ faces: OpaquePointer?, _ i: Int) -> UnsafePointer<facec_face>? {
    guard let f = facesHandle(faces), i >= 0, i < f.count else { return nil }
    return UnsafePointer(f.faces + i)
}

@_cdecl("facec_faces_embedding")
public func facec_faces_embedding(_ faces: OpaquePointer?, _ i: Int) -> UnsafePointer<Float>? {
    guard let f = facesHandle(faces), i >= 0, i < f.count, let e = f.embeddings else { return nil }
    return UnsafePointer(e + i * f.dimension)
}

@_cdecl("facec_faces_crop")
public func facec_faces_crop(_ faces: OpaquePointer?, _ i: Int, _ width: UnsafeMutablePointer<Int32>?,
                             _ height: UnsafeMutablePointer<Int32>?) -> UnsafePointer<UInt8>? {
    width?.pointee = 0
    height?.pointee = 0
    guard let f = facesHandle(faces), i >= 0, i < f.count, let crops = f.crops else { return nil }
    width?.pointee = Int32(crops[i].width)
    height?.pointee = Int32(crops[i].height)
    return UnsafePointer(crops[i].pixels)
}

@_cdecl("facec_faces_free")
public func facec_faces_free(_ faces: OpaquePointer?) { HandleRegistry.release(faces, .faces) }

private func embeddings(_ a: UnsafePointer<Float>?, _ b: UnsafePointer<Float>?, _ dim: Int, _ m: Metric) throws(APIError) -> ([Float], [Float]) {
    guard let a, let b else { throw argument("embeddings must not be NULL") }
    guard dim >= 1 && dim <= 1 << 24 else { throw argument("dim must be 1 to 16777216 (got \(dim))") }
    let x = Array(UnsafeBufferPointer(start: a, count: dim)), y = Array(UnsafeBufferPointer(start: b, count: dim))
    if let why = Distance.problem(x, metric: m) { throw argument("embedding a \(why)") }
    if let why = Distance.problem(y, metric: m) { throw argument("embedding b \(why)") }
    return (x, y)
}

@_cdecl("facec_distance")
public func facec_distance(_ a: UnsafePointer<Float>?, _ b: UnsafePointer<Float>?, _ dim: Int, _ m: facec_metric,
                           _ out: UnsafeMutablePointer<Double>?) -> facec_status {
    guarded {
        guard let out else { throw argument("distance must not be NULL") }
        let mt = try metric(m)
        let (x, y) = try embeddings(a, b, dim, mt)
        out.pointee = Distance.distance(x, y, metric: mt)
    }
}

@_cdecl("facec_verify")
public func facec_verify(_ model: OpaquePointer?, _ a: UnsafePointer<Float>?, _ b: UnsafePointer<Float>?, _ dim: Int,
                         _ m: facec_metric, _ distance: UnsafeMutablePointer<Double>?,
                         _ verified: UnsafeMutablePointer<Int32>?) -> facec_status {
    guarded {
        guard let handle = modelHandle(model), let distance, let verified else {
            throw argument("facec_verify: model, distance and verified must not be NULL")
        }
        guard dim == handle.dimension else { throw argument("dim \(dim) is not the model's embedding size \(handle.dimension)") }
        let mt = try metric(m)
        let (x, y) = try embeddings(a, b, dim, mt)
        let threshold = try Thresholds.resolve(handle.model.header, metric: mt, override: nil, modelPath: handle.path)
        let d = Distance.distance(x, y, metric: mt)
        distance.pointee = d
        verified.pointee = d <= threshold ? 1 : 0
    }
}

@_cdecl("facec_distances")
public func facec_distances(_ query: UnsafePointer<Float>?, _ rows: UnsafePointer<Float>?, _ count: Int, _ dim: Int,
                            _ rowStride: Int, _ m: facec_metric, _ out: UnsafeMutablePointer<Double>?) -> facec_status {
    guarded {
        guard let query, let out else { throw argument("facec_distances: query and distances must not be NULL") }
        guard dim >= 1 && dim <= 1 << 24 else { throw argument("dim must be 1 to 16777216 (got \(dim))") }
        guard count >= 0 && count <= 1 << 32 else { throw argument("count must be 0 to 2^32 (got \(count))") }
        guard count == 0 || rows != nil else { throw argument("facec_distances: rows must not be NULL") }
        guard rowStride >= dim else { throw argument("row_stride \(rowStride) is less than dim \(dim)") }
        guard count <= 1 || rowStride <= ((1 << 44) - dim) / (count - 1) else { throw argument("row_stride × count does not fit in memory") }
        let mt = try metric(m)
        let q = Array(UnsafeBufferPointer(start: query, count: dim))
        if let why = Distance.problem(q, metric: mt) { throw argument("the query embedding \(why)") }
        for i in 0..<count {
            let row = Array(UnsafeBufferPointer(start: rows! + i * rowStride, count: dim))
            if Distance.problem(row, metric: mt) != nil {
                // As a gallery search ranks it: never within a threshold.
                out[i] = mt == .cosine || mt == .angular ? 1 : .infinity
            } else {
                out[i] = Distance.distance(q, row, metric: mt)
            }
        }
    }
}

@_cdecl("facec_confidence")
public func facec_confidence(_ model: OpaquePointer?, _ distance: Double, _ m: facec_metric, _ verified: Int32,
                             _ out: UnsafeMutablePointer<Double>?, _ integral: UnsafeMutablePointer<Int32>?) -> facec_status {
    guarded {
        guard let handle = modelHandle(model), let out else { throw argument("facec_confidence: model must be an open model and confidence not NULL") }
        guard distance.isFinite else { throw argument("distance must be a finite number (got \(distance))") }
        guard verified == 0 || verified == 1 else { throw argument("verified must be 0 or 1 (got \(verified))") }
        let c = DeepfaceModels.confidence(distance: distance, verified: verified == 1, metric: try metric(m),
                                          entry: DeepfaceModels.entry(for: handle.model.header))
        out.pointee = c.value
        integral?.pointee = c.isInteger ? 1 : 0
    }
}
