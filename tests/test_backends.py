"""The ONNX Runtime backend: parity with PyTorch fp32, the cache entry it builds, a torch-free serving path.

The shipped models' ONNX entry is exported once per cache (the first test that needs it builds it,
~30 s); the cache tests use a tiny random BERT and their own cache directory.
"""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from service.analyzer import Analyzer, load_torch_models
from service.backbone.resolve import load_backbone
from service.engines.backend import package_versions
from service.models.onnx import KEY_PACKAGES, load_onnx_models, onnx_dir
from service.models.summaries.features import SummarizerConfig
from service.models.summaries.scorer import build_scorer
from service.models.summaries.summarizer import Summarizer, split_body
from service.models.topics.classifier import ClassifierConfig, TopicClassifier
from service.models.topics.head import new_head
from tests.fixtures.articles import HEALTH, REGIONAL_GOVERNMENT, SCRAPED_REGIONAL, SPORT
from training.config import PROJECT_ROOT

ARTICLES = [SPORT, HEALTH, REGIONAL_GOVERNMENT, SCRAPED_REGIONAL]


@pytest.fixture(scope="module")
def onnx_analyzer():
    return Analyzer.load(backend="onnx")


@pytest.fixture(scope="module")
def fp32_analyzer():
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("WARTA_PRECISION", "fp32")  # read when the models load
        return Analyzer.load(backend="torch")


def scores(result) -> dict[str, float]:
    return {t.label: t.score for t in result.topics}


def test_onnx_backend_agrees_with_pytorch_fp32(onnx_analyzer, fp32_analyzer):
    assert onnx_analyzer.backend == "onnx-int8" and fp32_analyzer.backend == "torch-fp32"
    items = [{"id": str(i), "text": text} for i, text in enumerate(ARTICLES)]
    fast, reference = onnx_analyzer.analyze(items), fp32_analyzer.analyze(items)
    assert [r.topic for r in fast] == [r.topic for r in reference]
    assert [r.topic for r in fast[:3]] == ["sport", "health", "governance"]
    for a, b in zip(fast, reference, strict=True):
        difference = max(abs(scores(a)[label] - p) for label, p in scores(b).items())
        assert difference < 0.02, (a.id, difference)  # the topic window runs in fp32 on both


def sentence_scores(analyzer, text: str) -> np.ndarray:
    encoder = analyzer.classifier if analyzer.shared_pass else analyzer.summarizer  # the summariser's own pass
    document = encoder.encode([text])[0]
    return analyzer.summarizer.sentence_scores(text, split_body(text), document, "supervised")


def test_onnx_summaries_pick_the_same_sentences_unless_fp32_scores_tie(onnx_analyzer, fp32_analyzer):
    long_article = "\n".join([REGIONAL_GOVERNMENT, HEALTH, SPORT, SCRAPED_REGIONAL])  # several int8 windows
    decided = 0
    for text in [*ARTICLES, long_article]:
        fast, reference = sentence_scores(onnx_analyzer, text), sentence_scores(fp32_analyzer, text)
        # Logits span about -3..4. Windows after the first run in int8: on the scraped regional article (3 windows)
        # the summariser over the topic encoder's layer 6 moves by 0.17 on average (0.1 bounded the frozen layer
        # 10's); which sentences win is what must hold, below, and the parity gate measures it at scale.
        assert np.abs(fast - reference).mean() < 0.2
        ranked, chosen = np.sort(reference)[::-1], set(np.argsort(-fast)[:3].tolist())
        clearly_in = {i for i, r in enumerate(reference) if r > ranked[3] + 0.1}  # fp32's top 3 with a margin
        clearly_out = {i for i, r in enumerate(reference) if r < ranked[2] - 0.1}
        assert clearly_in <= chosen and not clearly_out & chosen, (sorted(clearly_in), sorted(chosen))
        decided += len(clearly_in)
    assert decided >= 8  # most top-3 places are clear, so the comparison above is not empty


def test_onnx_serving_path_imports_neither_torch_nor_transformers(onnx_analyzer):
    code = (
        "import json, sys\n"
        "from service.analyzer import Analyzer\n"
        "a = Analyzer.load(backend='onnx')\n"
        f"r = a.analyze([{SPORT!r}])[0]\n"
        "print(json.dumps([a.backend, r.topic, 'torch' in sys.modules, 'transformers' in sys.modules]))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=PROJECT_ROOT, check=True)
    assert json.loads(out.stdout.strip().splitlines()[-1]) == ["onnx-int8", "sport", False, False]


@pytest.fixture(scope="module")
def tiny_artifacts(tmp_path_factory):
    """A classifier (1 fine-tuned layer of 2) and a summariser (reads layer 2) on a tiny random BERT."""
    from tests.conftest import make_tiny_bert

    root = tmp_path_factory.mktemp("tiny-onnx")
    backbone_dir = make_tiny_bert(root / "bert")
    model, tokenizer, resolved = load_backbone(str(backbone_dir))
    labels = ["sport", "health", "governance"]
    config = ClassifierConfig(labels, str(backbone_dir), resolved.fingerprint, 1, 16, "", long_text="chunk_mean")
    classifier = TopicClassifier.from_torch(model, tokenizer, new_head(model, len(labels), 1), config, resolved)
    classifier.save_pretrained(root / "classifier")
    summary_config = SummarizerConfig(str(backbone_dir), resolved.fingerprint, 2, 16, "", width=8, heads=2)
    Summarizer.from_torch(model, tokenizer, build_scorer(16, summary_config), summary_config).save_pretrained(
        root / "summarizer"
    )
    return root, backbone_dir


def test_onnx_models_match_pytorch_and_a_damaged_entry_is_rebuilt(tiny_artifacts, tmp_path):
    root, backbone_dir = tiny_artifacts
    args = (root / "classifier", root / "summarizer", str(backbone_dir), tmp_path)
    classifier, summarizer = load_onnx_models(*args)
    texts = ["timnas menang gol di sleman. bupati meresmikan pasar baru. dokter pasien rumah sakit " * 3]
    torch_classifier = TopicClassifier.load(root / "classifier", str(backbone_dir))
    np.testing.assert_allclose(classifier.text_logits(texts), torch_classifier.text_logits(texts), atol=0.05)
    torch_summarizer = Summarizer.load(root / "summarizer", str(backbone_dir))
    body = "timnas menang gol di sleman hari ini. bupati meresmikan pasar baru di sleman. dokter pasien rumah sakit."
    summaries = (s.summarize([body], max_sentences=1)[0].sentences for s in (summarizer, torch_summarizer))
    got, expected_sentences = summaries
    assert [s.index for s in got] == [s.index for s in expected_sentences]

    entry = onnx_dir(root / "classifier", root / "summarizer", classifier.resolved.fingerprint, tmp_path)
    manifest = json.loads((entry / "warta-manifest.json").read_text())
    assert manifest["lower_layers"] == [1, 2]  # one graph per distinct layer count the two heads read
    expected = {"embeddings.onnx", "lower-1.onnx", "lower-1.fp32.onnx", "lower-2.onnx", "lower-2.fp32.onnx"}
    expected |= {"lower-1.int8w.onnx", "lower-2.int8w.onnx"}  # int8 weights for OpenVINO
    expected |= {"topic-head.onnx", "topic-head.int8.onnx"}  # fp32 blocks: the topic windows and OpenVINO
    assert expected | {"scorer.onnx", "tokenizer.json"} == set(manifest["files"])
    damaged = entry / "lower-1.onnx"
    damaged.write_bytes(b"\0" * damaged.stat().st_size)  # same size: only loading can tell
    classifier, _ = load_onnx_models(*args)
    assert damaged.read_bytes()[:4] != b"\0\0\0\0"
    np.testing.assert_allclose(classifier.text_logits(texts), torch_classifier.text_logits(texts), atol=0.05)
    # OpenVINO runs the same entry's fp32 graphs, or its blocks with int8 weights.
    for engine in ("openvino-fp32", "openvino-int8"):
        classifier, summarizer = load_onnx_models(*args, engine=engine)
        np.testing.assert_allclose(classifier.text_logits(texts), torch_classifier.text_logits(texts), atol=0.05)
        got = summarizer.summarize([body], max_sentences=1)[0].sentences
        assert [s.index for s in got] == [s.index for s in expected_sentences], engine


@pytest.mark.parametrize("topic_precision", ["fp32", "int8"])
def test_a_topic_encoder_trained_whole_runs_its_own_pass_on_onnx(tiny_artifacts, tmp_path, topic_precision):
    """Every layer fine-tuned (no lower blocks of its own): the topic windows run embeddings + the whole
    head graph, fp32 or int8, and agree with PyTorch; the summariser keeps its own lower blocks."""
    root, backbone_dir = tiny_artifacts
    model, tokenizer, resolved = load_backbone(str(backbone_dir))
    config = ClassifierConfig(["sport", "health", "governance"], str(backbone_dir), resolved.fingerprint, 2, 16, "")
    whole = TopicClassifier.from_torch(model, tokenizer, new_head(model, 3, 2), config, resolved)
    whole.save_pretrained(tmp_path / "whole")
    assert whole.n_lower == 0
    classifier, summarizer = load_onnx_models(
        tmp_path / "whole", root / "summarizer", str(backbone_dir), tmp_path / "cache", topic_precision=topic_precision
    )
    texts = ["timnas menang gol di sleman. bupati meresmikan pasar baru. dokter pasien rumah sakit " * 3]
    torch_logits = TopicClassifier.load(tmp_path / "whole", str(backbone_dir)).text_logits(texts)
    np.testing.assert_allclose(classifier.text_logits(texts), torch_logits, atol=0.05)
    (entry,) = (p.parent for p in (tmp_path / "cache" / "onnx").glob("*/warta-manifest.json"))
    manifest = json.loads((entry / "warta-manifest.json").read_text())
    assert manifest["topic_layers"] == 0 and manifest["lower_layers"] == [2]
    assert not any(name.startswith("lower-0") for name in manifest["files"])
    with pytest.raises(ValueError, match="topic_precision"):
        load_onnx_models(
            tmp_path / "whole", root / "summarizer", str(backbone_dir), tmp_path / "cache", topic_precision="bf16"
        )


def test_onnx_cache_key_changes_with_the_onnxruntime_onnx_and_torch_versions(tmp_path):
    import onnxruntime

    installed = package_versions(KEY_PACKAGES)
    assert set(installed) == {"onnxruntime", "onnx", "torch"}
    assert installed["onnxruntime"] == onnxruntime.__version__
    assert package_versions(("no-such-package-xyz",)) == {"no-such-package-xyz": "-"}

    args = (tmp_path / "classifier", tmp_path / "summarizer", "sha256:backbone", tmp_path)
    assert onnx_dir(*args) == onnx_dir(*args, versions=installed)  # the installed versions by default
    for name in installed:
        upgraded = {**installed, name: installed[name] + ".post1"}
        assert onnx_dir(*args, versions=upgraded) != onnx_dir(*args, versions=installed), name
    assert onnx_dir(*args, versions={**installed, "torch": "-"}) != onnx_dir(*args, versions=installed)


def test_with_independent_batches_an_article_gets_the_same_result_whatever_it_is_batched_with():
    # int8 quantises activations per call: each article's windows run in batches of their own.
    analyzer = Analyzer.load(backend="onnx", independent_batches=True)
    alone = analyzer.analyze([SCRAPED_REGIONAL])[0].to_dict()
    crowded = analyzer.analyze([SPORT, HEALTH * 3, SCRAPED_REGIONAL, REGIONAL_GOVERNMENT], batch_size=4)[2]
    assert crowded.to_dict() == alone


@pytest.fixture(scope="module")
def shared_topic_encoder(tiny_artifacts, tmp_path_factory):
    """A topic encoder trained whole (both tiny layers moved off the backbone's weights, as fine-tuning does)
    and a summariser trained on its layer-1 states (``topic_encoder`` names it)."""
    import torch

    from service.backbone.artifacts import encoder_digest
    from service.models.topics.head import split_encoder

    _, backbone_dir = tiny_artifacts
    root = tmp_path_factory.mktemp("shared-encoder")
    model, tokenizer, resolved = load_backbone(str(backbone_dir))
    head = new_head(model, 3, 2)
    with torch.no_grad():
        generator = torch.Generator().manual_seed(3)
        for parameter in head.parameters():
            parameter.add_(0.3 * torch.randn(parameter.shape, generator=generator))
    config = ClassifierConfig(["sport", "health", "governance"], str(backbone_dir), resolved.fingerprint, 2, 16, "")
    TopicClassifier.from_torch(model, tokenizer, head, config, resolved).save_pretrained(root / "whole")
    cut, _ = split_encoder(model, head, 1)
    digest = encoder_digest(root / "whole")
    summary_config = SummarizerConfig(
        str(backbone_dir), resolved.fingerprint, 1, 16, "", 8, heads=2, topic_encoder=digest
    )
    Summarizer.from_torch(cut, tokenizer, build_scorer(16, summary_config), summary_config).save_pretrained(
        root / "summarizer"
    )
    return root, backbone_dir


def test_a_topic_encoder_trained_whole_is_cut_into_the_pass_the_summariser_shares(shared_topic_encoder, tmp_path):
    """Cut after the summariser's feature layer, the topic encoder gives the same topics; its lower layers (not
    the frozen backbone's) feed the summariser; ONNX exports one lower graph both read; the Analyzer runs one pass."""
    from service.backbone.resolve import BackboneError
    from service.engines.encoder import pad_batch
    from service.engines.pytorch import encoder_layers

    root, backbone_dir = shared_topic_encoder
    texts = ["timnas menang gol di sleman. bupati meresmikan pasar baru. dokter pasien rumah sakit " * 3]
    whole = TopicClassifier.load(root / "whole", str(backbone_dir), precision="fp32")
    cut = TopicClassifier.load(root / "whole", str(backbone_dir), precision="fp32", shared_layers=1)
    assert (whole.n_lower, cut.n_lower) == (0, 1) and len(cut.head.layers) == 1
    np.testing.assert_allclose(cut.text_logits(texts), whole.text_logits(texts), atol=1e-5)
    assert encoder_layers(cut.backbone)[0] is cut.backbone.encoder.layer[0] is not encoder_layers(whole.backbone)[0]

    _, summarizer = load_torch_models(root / "whole", root / "summarizer", str(backbone_dir), precision="fp32")
    ids, mask = pad_batch([[2, 5, 6, 7, 3]], 0)
    np.testing.assert_allclose(summarizer.lower(ids, mask), cut.lower(ids, mask), atol=1e-5)
    frozen, _, _ = load_backbone(str(backbone_dir))
    plain = Summarizer.from_torch(frozen, whole.tokenizer, None, summarizer.config, precision="fp32")
    assert np.abs(summarizer.lower(ids, mask) - plain.lower(ids, mask)).max() > 0.1  # not the frozen layer
    with pytest.raises(BackboneError, match="reads the states of topic encoder .* frozen backbone"):
        Summarizer.load(root / "summarizer", str(backbone_dir))
    other = tmp_path / "other-classifier"  # another topic encoder: the backbone's layers, not the trained ones
    TopicClassifier.from_torch(frozen, whole.tokenizer, new_head(frozen, 3, 2), whole.config).save_pretrained(other)
    with pytest.raises(BackboneError, match="was given topic encoder .*load it beside that topic classifier"):
        load_torch_models(other, root / "summarizer", str(backbone_dir))

    onnx_classifier, onnx_summarizer = load_onnx_models(
        root / "whole", root / "summarizer", str(backbone_dir), tmp_path
    )
    (entry,) = (p.parent for p in tmp_path.glob("onnx/*/warta-manifest.json"))
    manifest = json.loads((entry / "warta-manifest.json").read_text())
    assert manifest["topic_layers"] == 1 and manifest["lower_layers"] == [1]  # one lower graph for both
    np.testing.assert_allclose(onnx_classifier.text_logits(texts), whole.text_logits(texts), atol=0.05)
    np.testing.assert_allclose(onnx_summarizer.lower(ids, mask), summarizer.lower(ids, mask), atol=0.05)

    service = tmp_path / "service.yaml"
    service.write_text(
        f"backbone: {backbone_dir}\ncache_dir: {tmp_path}\nbackend: torch\nprecision: fp32\n"
        f"classifier_dir: {root / 'whole'}\nsummarizer_dir: {root / 'summarizer'}\n"
    )
    analyzer = Analyzer.load(config_path=service)
    assert analyzer.shared_pass and analyzer.classifier.n_lower == 1
    assert analyzer.analyze(texts)[0].topic == whole.predict(texts)[0].topic
