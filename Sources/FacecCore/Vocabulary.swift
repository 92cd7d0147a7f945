/// The words every layer shares: how a model wants its input and how two
/// embeddings are compared. Stored in the .fgraph header (FacecFormat), applied
/// by the image preprocessor (FacecImage) and the verifier (FacecPipeline).

/// Channel order of the tensor fed to the model. deepface feeds BGR to every
/// model (formats.md §3), MatConvNet VGG-Face expects RGB.
public enum ColorOrder: String, Sendable, Codable { case rgb, bgr }

public enum ResizePolicy: String, Sendable, Codable {
    /// deepface `resize_image`: scale to fit inside H×W keeping the aspect
    /// ratio, bilinear, then zero-pad (smaller half top/left).
    case keepAspectPad = "keep_aspect_pad"
    /// Plain bilinear resize to height × width (aspect ratio not kept).
    case stretch
}

/// deepface's distance metrics (deepface/modules/verification.py).
public enum Metric: String, Sendable, CaseIterable, Codable {
    case cosine, euclidean
    case euclideanL2 = "euclidean_l2"
    /// arccos(cosine similarity) / π, in [0, 1]: ranks as cosine does.
    case angular
}
