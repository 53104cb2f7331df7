package io.tandem.inference.hf;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tandem.inference.hf.CheckpointMaker.ModelShape;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** make-checkpoint writes folders that load like published Qwen2.5 checkpoints. */
class CheckpointMakerTest {

  @TempDir Path tmp;

  private static final int[] PROMPT = {151644, 872, 198, 9707, 0, 151645};

  @Test
  void tinyCheckpointLoadsRunsAndIsDeterministicPerSeed() throws Exception {
    Path tokenizer = Golden.fixture("qwen-tokenizer");
    Path a = tmp.resolve("a");
    Path b = tmp.resolve("b");
    Path other = tmp.resolve("other");
    CheckpointMaker.make(ModelShape.TINY, a, 7, tokenizer);
    CheckpointMaker.make(ModelShape.TINY, b, 7, tokenizer);
    CheckpointMaker.make(ModelShape.TINY, other, 8, tokenizer);

    for (String f : List.of("config.json", "generation_config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json")) {
      assertTrue(Files.isRegularFile(a.resolve(f)), f);
    }
    assertArrayEquals(Files.readAllBytes(a.resolve("model.safetensors")), Files.readAllBytes(b.resolve("model.safetensors")));

    float[] logitsA = lastLogits(a);
    assertEquals(CheckpointMaker.QWEN_VOCAB_SIZE, logitsA.length);
    for (float f : logitsA) {
      assertTrue(Float.isFinite(f));
    }
    assertArrayEquals(logitsA, lastLogits(b));
    assertFalse(java.util.Arrays.equals(logitsA, lastLogits(other)), "another seed gives other weights");

    HfConfig config = HfConfig.load(a);
    assertEquals(List.of(151645, 151643), config.eosTokenIds());
    assertTrue(config.tieWordEmbeddings());
  }

  @Test
  void checkpointOverTheShardSizeIsShardedWithAnIndexAndLoadsTheSame() throws Exception {
    Path tokenizer = Golden.fixture("qwen-tokenizer");
    Path single = tmp.resolve("single");
    Path sharded = tmp.resolve("sharded");
    CheckpointMaker.make(ModelShape.TINY, single, 3, tokenizer);
    CheckpointMaker.make(ModelShape.TINY, sharded, 3, tokenizer, 4_000_000);

    assertTrue(Files.isRegularFile(sharded.resolve("model.safetensors.index.json")));
    assertFalse(Files.exists(sharded.resolve("model.safetensors")));
    assertTrue(Files.isRegularFile(sharded.resolve("model-00001-of-00002.safetensors")));
    assertArrayEquals(lastLogits(single), lastLogits(sharded));
  }

  /** Shards left over would stand for the new file: a loader reads the index first. */
  @Test
  void writingOverAShardedCheckpointLeavesNoneOfItsWeightsOrTokenizerExtras() throws Exception {
    Path tokenizer = Golden.fixture("qwen-tokenizer");
    Path withTemplate = Files.createDirectories(tmp.resolve("with-template"));
    for (String f : List.of("tokenizer.json", "tokenizer_config.json")) Files.copy(tokenizer.resolve(f), withTemplate.resolve(f));
    Files.writeString(withTemplate.resolve("chat_template.jinja"), "{{ messages }}");
    Path dir = tmp.resolve("over");
    CheckpointMaker.make(ModelShape.TINY, dir, 3, withTemplate, 4_000_000);
    assertTrue(Files.isRegularFile(dir.resolve("model-00002-of-00002.safetensors")));
    assertTrue(Files.isRegularFile(dir.resolve("chat_template.jinja")));

    CheckpointMaker.make(ModelShape.TINY, dir, 5, tokenizer);

    try (var files = Files.list(dir)) {
      assertEquals(
          List.of("LICENSE.npm-package", "config.json", "generation_config.json", "model.safetensors", "tokenizer.json",
              "tokenizer_config.json"),
          files.map(f -> f.getFileName().toString()).sorted().toList());
    }
    Path fresh = tmp.resolve("fresh");
    CheckpointMaker.make(ModelShape.TINY, fresh, 5, tokenizer);
    assertArrayEquals(lastLogits(fresh), lastLogits(dir), "the new seed's weights are the ones read");
  }

  @Test
  void realShapesCarryThePublishedQwen25Config() throws Exception {
    // Only the config is checked here; writing the 0.5B weights takes a minute and 1 GB.
    Path dir = tmp.resolve("cfg");
    Files.createDirectories(dir);
    java.lang.reflect.Method m = CheckpointMaker.class.getDeclaredMethod("writeConfig", ModelShape.class, Path.class);
    m.setAccessible(true);
    m.invoke(null, ModelShape.QWEN2_5_0_5B, dir.resolve("config.json"));
    HfConfig c = HfConfig.load(dir);
    assertEquals(896, c.hiddenSize());
    assertEquals(4864, c.intermediateSize());
    assertEquals(24, c.numHiddenLayers());
    assertEquals(14, c.numAttentionHeads());
    assertEquals(2, c.numKeyValueHeads());
    assertEquals(64, c.headDim());
    assertEquals(151936, c.vocabSize());
    assertEquals(1e6, c.ropeTheta());
    assertEquals(32768, c.maxPositionEmbeddings());
  }

  private static float[] lastLogits(Path dir) {
    try (DecoderModel model = DecoderModel.load(dir);
        KvCache cache = model.newCache()) {
      return model.forward(List.of(cache), List.of(PROMPT))[0];
    }
  }
}
