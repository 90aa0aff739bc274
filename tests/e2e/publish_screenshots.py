"""Copy the chosen screenshots of an end-to-end run into docs/screenshots/, small.

    .venv/bin/python -m pytest tests/e2e          # writes tests/e2e/screenshots/
    .venv/bin/python tests/e2e/publish_screenshots.py

Each picture is cut to a readable height and stored as a 256-colour PNG (the pages are
flat colours and text, so this loses nothing a reader would notice and keeps the
repository light).
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image

BASE_DIR = Path(__file__).resolve().parents[2]
SOURCE = BASE_DIR / "tests" / "e2e" / "screenshots"
TARGET = BASE_DIR / "docs" / "screenshots"

# name in docs → (screenshot, height to keep at most[, where to start: a section further down])
CHOSEN = {
    "dashboard": ("dashboard", 700),
    "dataset-profile": ("dataset-detail", 1250),
    "train": ("train", 1100),
    "model-metrics": ("model-detail", 1150),
    "prediction": ("prediction-detail", 1000),
    "billing": ("billing", 720),
    "home": ("home-first-visit", 1000),
    "answer": ("answer-desktop", 1000),
    "compare": ("p15b-desktop-compare", 1100),
    "drift": ("model-drift", 1050, 1780),
}
PHONE = ["phone-dashboard", "phone-model-detail", "phone-prediction-detail"]
PHONE_HEIGHT = 1100


def _save(image: Image.Image, name: str) -> Path:
    path = TARGET / f"{name}.png"
    image.convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT).save(path, optimize=True)
    return path


def main() -> None:
    TARGET.mkdir(parents=True, exist_ok=True)
    written = []
    for name, (source, height, *start) in CHOSEN.items():
        image = Image.open(SOURCE / f"{source}.png")
        top = min(start[0] if start else 0, image.height - 1)
        written.append(_save(image.crop((0, top, image.width, min(top + height, image.height))), name))
    phones = [Image.open(SOURCE / f"{name}.png") for name in PHONE]
    gap = 24
    sheet = Image.new(
        "RGB", (sum(p.width for p in phones) + gap * (len(phones) + 1), PHONE_HEIGHT + 2 * gap), "#dee2e6"
    )
    left = gap
    for phone in phones:
        sheet.paste(phone.crop((0, 0, phone.width, min(PHONE_HEIGHT, phone.height))), (left, gap))
        left += phone.width + gap
    written.append(_save(sheet, "phone"))
    for path in written:
        print(f"{path.relative_to(BASE_DIR)}  {path.stat().st_size // 1024} KB")
    print(f"total {sum(path.stat().st_size for path in written) // 1024} KB")


if __name__ == "__main__":
    main()
