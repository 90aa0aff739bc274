"""Sample tables built from the data scikit-learn ships with: the demo catalog's
training data and the one-click sample datasets a new user can upload. No files are
stored in the repository and nothing is downloaded: each table is built from the
installed library, with a sentence per column saying what it means."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd


@dataclass(frozen=True)
class Sample:
    key: str
    name: str
    filename: str
    target: str
    summary: str
    build: Callable[[], pd.DataFrame]
    meanings: dict[str, str]


def _breast_cancer() -> pd.DataFrame:
    from sklearn.datasets import load_breast_cancer

    data = load_breast_cancer(as_frame=True)
    frame = data.frame.drop(columns="target")
    frame["diagnosis"] = data.target.map(dict(enumerate(data.target_names)))
    return frame


def _breast_cancer_meanings() -> dict[str, str]:
    measures = {
        "radius": "radius of the cell nuclei (µm)",
        "texture": "texture: spread of the grey levels",
        "perimeter": "perimeter of the cell nuclei (µm)",
        "area": "area of the cell nuclei (µm²)",
        "smoothness": "smoothness: local variation of the radius",
        "compactness": "compactness: perimeter² / area − 1",
        "concavity": "concavity: depth of the concave parts of the outline",
        "concave points": "number of concave parts of the outline",
        "symmetry": "symmetry of the cell nuclei",
        "fractal dimension": "fractal dimension of the outline",
    }
    meanings = {}
    for measure, text in measures.items():
        meanings[f"mean {measure}"] = f"Mean {text} in the biopsy image."
        meanings[f"{measure} error"] = f"Standard error of the {text}."
        meanings[f"worst {measure}"] = f"Largest {text} (mean of the three largest nuclei)."
    meanings["diagnosis"] = "The tumour's diagnosis: malignant or benign."
    return meanings


def _diabetes() -> pd.DataFrame:
    from sklearn.datasets import load_diabetes

    data = load_diabetes(as_frame=True, scaled=False)
    frame = data.frame.drop(columns="target")
    frame["progression"] = data.target
    return frame


def _iris() -> pd.DataFrame:
    from sklearn.datasets import load_iris

    data = load_iris(as_frame=True)
    frame = data.frame.drop(columns="target")
    frame.columns = [name.replace(" (cm)", "_cm").replace(" ", "_") for name in frame.columns]
    frame["species"] = data.target.map(dict(enumerate(data.target_names)))
    return frame


def _wine() -> pd.DataFrame:
    from sklearn.datasets import load_wine

    data = load_wine(as_frame=True)
    frame = data.frame.drop(columns="target")
    frame["cultivar"] = data.target.map(lambda label: f"cultivar_{label + 1}")
    return frame


SAMPLES = {
    sample.key: sample
    for sample in (
        Sample(
            "iris",
            "Iris flowers (demo)",
            "iris.csv",
            "species",
            "150 iris flowers measured in centimetres; predict the species (3 classes).",
            _iris,
            {
                "sepal_length_cm": "Length of the sepal, the green leaf under the petals (cm).",
                "sepal_width_cm": "Width of the sepal (cm).",
                "petal_length_cm": "Length of the petal (cm).",
                "petal_width_cm": "Width of the petal (cm).",
                "species": "The iris species: setosa, versicolor or virginica.",
            },
        ),
        Sample(
            "breast_cancer",
            "Breast cancer (demo)",
            "breast_cancer.csv",
            "diagnosis",
            "569 breast biopsies described by 30 measurements of their cell nuclei; "
            "predict whether the tumour is malignant or benign (2 classes).",
            _breast_cancer,
            _breast_cancer_meanings(),
        ),
        Sample(
            "diabetes",
            "Diabetes progression (demo)",
            "diabetes.csv",
            "progression",
            "442 diabetes patients: age, sex, body mass index, blood pressure and six blood "
            "tests; predict how far the disease progressed a year later (a number).",
            _diabetes,
            {
                "age": "Age in years.",
                "sex": "Sex, coded 1 or 2.",
                "bmi": "Body mass index (kg/m²).",
                "bp": "Average blood pressure (mm Hg).",
                "s1": "Total serum cholesterol (mg/dl).",
                "s2": "Low-density lipoproteins, LDL (mg/dl).",
                "s3": "High-density lipoproteins, HDL (mg/dl).",
                "s4": "Total cholesterol / HDL.",
                "s5": "Log of the serum triglycerides level.",
                "s6": "Blood sugar level (mg/dl).",
                "progression": "Disease progression one year after the baseline (25 to 346).",
            },
        ),
        Sample(
            "wine",
            "Wine cultivars (demo)",
            "wine.csv",
            "cultivar",
            "178 Italian wines from three grape cultivars, by 13 chemical measurements; "
            "predict the cultivar (3 classes).",
            _wine,
            {
                "alcohol": "Alcohol (% by volume).",
                "malic_acid": "Malic acid (g/l).",
                "ash": "Ash (g/l).",
                "alcalinity_of_ash": "Alcalinity of the ash.",
                "magnesium": "Magnesium (mg/l).",
                "total_phenols": "Total phenols.",
                "flavanoids": "Flavanoid phenols.",
                "nonflavanoid_phenols": "Non-flavanoid phenols.",
                "proanthocyanins": "Proanthocyanins (tannins).",
                "color_intensity": "Colour intensity.",
                "hue": "Hue.",
                "od280/od315_of_diluted_wines": "Protein content: OD280/OD315 of the diluted wine.",
                "proline": "Proline, an amino acid (mg/l).",
                "cultivar": "The grape cultivar: cultivar_1, cultivar_2 or cultivar_3.",
            },
        ),
    )
}

# Offered on a new user's dashboard, in this order.
DASHBOARD_SAMPLES = ("breast_cancer", "iris", "diabetes")
