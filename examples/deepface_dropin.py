"""deepface's functions, run by facec: the one change is the import.

    from deepface import DeepFace   ->   from facec import DeepFace

Run it with scripts/python-example.sh (builds and installs the wheel, compiles
the Dlib model into ~/.facec/models once, then runs this file)."""
import os
import sys
import tempfile

from facec import DeepFace

repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
face, face2, couple = (os.path.join(repo, "Weights", n) for n in ("demo-face.jpg", "demo-face2.jpg", "demo-couple.jpg"))

# The model deepface calls "Dlib", compiled by facec (~/.facec/models/Dlib.fgraph), loaded once and reused.
model = DeepFace.build_model("Dlib")
print(model)

# verify: the same person in two photos, then found in a photo of two people.
for a, b in ((face, face2), (face2, couple)):
    r = DeepFace.verify(a, b, model_name="Dlib", distance_metric="cosine")
    print(f"verify {os.path.basename(a)} {os.path.basename(b)}: verified={r['verified']} distance={r['distance']} "
          f"threshold={r['threshold']} confidence={r['confidence']}")

# represent: every face of a photo, in deepface's order, with its box and eyes.
for f in DeepFace.represent(couple, model_name="Dlib"):
    print("represent", f["facial_area"], "confidence", f["face_confidence"], "embedding", [round(x, 4) for x in f["embedding"][:4]], "...")

# extract_faces: the aligned crops deepface would feed its network (RGB in [0, 1]).
for f in DeepFace.extract_faces(couple, model_name="Dlib"):
    print("extract_faces", f["face"].shape, f["face"].dtype, f["facial_area"]["x"], f["facial_area"]["y"], f["confidence"])

# find: who, in a folder of known people, is in this photo (pandas DataFrames when pandas is installed).
with tempfile.TemporaryDirectory() as db:
    for person, photo in (("angelina-jolie", face), ("couple", couple)):
        os.makedirs(os.path.join(db, person))
        with open(photo, "rb") as src, open(os.path.join(db, person, os.path.basename(photo)), "wb") as dst:
            dst.write(src.read())
    for frame in DeepFace.find(face2, db_path=db, model_name="Dlib", silent=True, return_type="dict"):
        for row in frame:
            print("find", os.path.relpath(str(row["identity"]), db), "distance", float(row["distance"]), "confidence", row["confidence"])

# No face: deepface's error, unless enforce_detection=False.
try:
    DeepFace.represent(os.path.join(repo, "Tests", "FacecTests", "Fixtures", "images", "rgb.png"), model_name="Dlib")
except ValueError as e:
    print(type(e).__name__ + ":", str(e)[:70], "...")
sys.exit(0)
