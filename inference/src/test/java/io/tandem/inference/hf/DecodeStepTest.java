package io.tandem.inference.hf;

import static io.tandem.inference.hf.Golden.assertClose;
import static io.tandem.inference.hf.Golden.ints;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.tandem.inference.hf.safetensors.Dtype;
import io.tandem.inference.hf.safetensors.SafetensorsWriter;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The whole-step TorchScript decode ({@link DecodeStep}) computes what the per-op path computes,
 * for every architecture branch: Qwen2's q/k/v biases, LLaMA without them, llama3 rope scaling,
 * Qwen3's q_norm / k_norm (on a generated checkpoint, there being no Qwen3 golden fixture); with
 * float32 matrices and with FBGEMM's packed float16 ones.
 */
class DecodeStepTest {

  @ParameterizedTest(name = "{0}")
  @ValueSource(strings = {"qwen2-tiny", "llama-tiny", "llama3-rope-tiny"})
  void batchedAndSingleDecodesMatchThePerOpPath(String fixture) {
    int[] prompt = ints(Golden.golden(fixture).get("incremental_decode").get("prompt_ids"));
    compare(Golden.fixture(fixture), prompt, Precision.FLOAT32);
    compare(Golden.fixture(fixture), prompt, Precision.FLOAT16); // FBGEMM's packed matrices
  }

  @Test
  void qwen3QkNormMatchesThePerOpPath(@TempDir Path dir) throws IOException {
    writeQwen3(dir);
    int[] prompt = {3, 14, 15, 9, 26, 5, 35, 8, 9, 7, 9, 3};
    compare(dir, prompt, Precision.FLOAT32);
    compare(dir, prompt, Precision.FLOAT16);
  }

  @Test
  void qwen3WeightsUnderALlamaConfigAreRefused(@TempDir Path dir) throws IOException {
    writeQwen3(dir);
    Path config = dir.resolve("config.json");
    Files.writeString(config, Files.readString(config).replace("Qwen3ForCausalLM", "LlamaForCausalLM"));
    CheckpointException e = assertThrows(CheckpointException.class, () -> DecoderModel.load(dir));
    assertTrue(e.getMessage().startsWith(dir + ": the weights have q/k norms"), e.getMessage());
  }

  @Test
  void aPassOfAPrefillAndADecodeThatFailsLeavesNoCacheAdvanced() {
    try (DecoderModel m = DecoderModel.load(Golden.fixture("qwen2-tiny"), Device.cpu(), Precision.FLOAT32, d -> {}, true);
        KvCache prefilling = m.newCache();
        KvCache decoding = m.newCache()) {
      m.forward(List.of(decoding), List.of(new int[] {1, 2, 3}));
      int outOfVocabulary = m.config().vocabSize() + 5;
      assertThrows(RuntimeException.class, () -> m.forward(List.of(prefilling, decoding),
          List.of(new int[] {4, 5, 6, 7}, new int[] {outOfVocabulary}), new boolean[2]));
      assertEquals(0, prefilling.length(), "a pass that failed advances no cache");
      assertEquals(3, decoding.length());
    }
  }

  /**
   * Sequences of three lengths, prefilled alike in both models, then decoded four steps batched
   * (the last step with one sequence left out), in batches whose pool rows are out of order or
   * not neighbours, one step beside another sequence's prefill, and one alone.
   */
  private static void compare(Path checkpoint, int[] prompt, Precision precision) {
    try (DecoderModel whole = DecoderModel.load(checkpoint, Device.cpu(), precision, d -> {}, true);
        DecoderModel perOp = DecoderModel.load(checkpoint, Device.cpu(), precision, d -> {}, false)) {
      assertTrue(whole.decodesInOneCall(), "the whole-step path applies to " + checkpoint.getFileName() + " in " + precision);
      assertFalse(perOp.decodesInOneCall());
      int[] lengths = {prompt.length, prompt.length - 3, 2};
      List<KvCache> a = new ArrayList<>();
      List<KvCache> b = new ArrayList<>();
      try {
        // Prefills: the first sequence alone, the other two in one pass, then a chunk after each
        // one's cached tokens (the mask offset by them) beside a one-token continuation.
        for (int i = 0; i < lengths.length; i++) {
          a.add(whole.newCache());
          b.add(perOp.newCache());
        }
        assertPrefillsAgree(whole, perOp, a.subList(0, 1), b.subList(0, 1), List.of(Arrays.copyOf(prompt, lengths[0] - 1)));
        assertPrefillsAgree(whole, perOp, a.subList(1, 3), b.subList(1, 3),
            List.of(Arrays.copyOf(prompt, lengths[1] - 2), Arrays.copyOf(prompt, 1)));
        // The chunk ahead of two one-token decodes, as HfModel orders a batch, in one call.
        assertPrefillsAgree(whole, perOp, List.of(a.get(1), a.get(0), a.get(2)), List.of(b.get(1), b.get(0), b.get(2)),
            List.of(Arrays.copyOfRange(prompt, lengths[1] - 2, lengths[1]), new int[] {prompt[lengths[0] - 1]},
                new int[] {prompt[1]}));
        for (int i = 0; i < lengths.length; i++) assertEquals(lengths[i], a.get(i).length());
        for (int step = 0; step < 4; step++) {
          int n = step == 3 ? 2 : 3;
          List<int[]> next = new ArrayList<>();
          for (int i = 0; i < n; i++) next.add(new int[] {(5 + 4 * i + step) % whole.config().vocabSize()});
          boolean[] logits = new boolean[n];
          Arrays.fill(logits, true);
          DecoderModel.Next x = whole.forward(a.subList(0, n), next, logits);
          DecoderModel.Next y = perOp.forward(b.subList(0, n), next, logits);
          assertArrayEquals(y.argmax(), x.argmax(), "step " + step);
          for (int i = 0; i < n; i++) assertClose("step " + step + ", sequence " + i, y.logits()[i], x.logits()[i]);
        }
        // Rows out of the batch's order (read as a view of the pool, the queries permuted), and rows
        // with a gap between them (gathered).
        for (int[] pick : new int[][] {{2, 0, 1}, {1, 0}, {2, 0}}) {
          List<KvCache> xs = new ArrayList<>();
          List<KvCache> ys = new ArrayList<>();
          List<int[]> next = new ArrayList<>();
          for (int i : pick) {
            xs.add(a.get(i));
            ys.add(b.get(i));
            next.add(new int[] {(7 + 3 * i) % whole.config().vocabSize()});
          }
          boolean[] logits = new boolean[pick.length];
          Arrays.fill(logits, true);
          DecoderModel.Next x = whole.forward(xs, next, logits);
          DecoderModel.Next y = perOp.forward(ys, next, logits);
          assertArrayEquals(y.argmax(), x.argmax(), "rows " + Arrays.toString(pick));
          for (int i = 0; i < pick.length; i++) assertClose("rows " + Arrays.toString(pick) + ", sequence " + i, y.logits()[i], x.logits()[i]);
        }
        // A prefill ahead of two decodes (as HfModel orders a batch), in one call.
        try (KvCache x = whole.newCache(); KvCache y = perOp.newCache()) {
          int[] head = Arrays.copyOf(prompt, 5);
          boolean[] logits = {true, true, true};
          DecoderModel.Next p = whole.forward(List.of(x, a.get(0), a.get(1)), List.of(head, new int[] {2}, new int[] {3}), logits);
          DecoderModel.Next q = perOp.forward(List.of(y, b.get(0), b.get(1)), List.of(head, new int[] {2}, new int[] {3}), logits);
          assertArrayEquals(q.argmax(), p.argmax(), "prefill and decodes");
          for (int i = 0; i < 3; i++) assertClose("prefill and decodes, sequence " + i, q.logits()[i], p.logits()[i]);
          assertEquals(5, x.length());
          // A chunk after its cached tokens beside decodes whose rows are neither neighbours nor in
          // the batch's order (brought together, which may move the prefilling sequence's row).
          int[] chunk = Arrays.copyOfRange(prompt, 5, 8);
          p = whole.forward(List.of(x, a.get(2), a.get(0)), List.of(chunk, new int[] {4}, new int[] {6}), logits);
          q = perOp.forward(List.of(y, b.get(2), b.get(0)), List.of(chunk, new int[] {4}, new int[] {6}), logits);
          assertArrayEquals(q.argmax(), p.argmax(), "a chunk and decodes out of row order");
          for (int i = 0; i < 3; i++) assertClose("a chunk and decodes out of row order, sequence " + i, q.logits()[i], p.logits()[i]);
          assertEquals(8, x.length());
        }
        // One sequence alone: the whole-step path also serves a batch of one.
        float[] solo = whole.forward(List.of(a.get(2)), List.of(new int[] {1}))[0];
        float[] reference = perOp.forward(List.of(b.get(2)), List.of(new int[] {1}))[0];
        assertClose("a single decode", reference, solo);
        for (int i = 0; i < 3; i++) assertEquals(b.get(i).length(), a.get(i).length());
      } finally {
        a.forEach(KvCache::close);
        b.forEach(KvCache::close);
      }
    }
  }

  /** One pass of prefills in both models: the same greedy tokens, logits within the golden tolerance. */
  private static void assertPrefillsAgree(DecoderModel whole, DecoderModel perOp, List<KvCache> a, List<KvCache> b,
      List<int[]> tokens) {
    boolean[] logits = new boolean[tokens.size()];
    Arrays.fill(logits, true);
    DecoderModel.Next x = whole.forward(a, tokens, logits);
    DecoderModel.Next y = perOp.forward(b, tokens, logits);
    assertArrayEquals(y.argmax(), x.argmax(), "prefill");
    for (int i = 0; i < tokens.size(); i++) assertClose("prefill, sequence " + i, y.logits()[i], x.logits()[i]);
  }

  /** A tiny Qwen3 checkpoint: 2 layers, hidden 32, 4 query heads of head_dim 16 over 2 KV heads, random norms. */
  private static void writeQwen3(Path dir) throws IOException {
    int vocab = 48;
    int hidden = 32;
    int inter = 64;
    int heads = 4;
    int kv = 2;
    int hd = 16;
    ObjectNode c = new ObjectMapper().createObjectNode();
    c.putArray("architectures").add("Qwen3ForCausalLM");
    c.put("model_type", "qwen3");
    c.put("hidden_size", hidden);
    c.put("intermediate_size", inter);
    c.put("num_hidden_layers", 2);
    c.put("num_attention_heads", heads);
    c.put("num_key_value_heads", kv);
    c.put("head_dim", hd);
    c.put("max_position_embeddings", 128);
    c.put("rms_norm_eps", 1e-6);
    c.put("rope_theta", 1000000.0);
    c.put("tie_word_embeddings", true);
    c.put("attention_bias", false);
    c.put("vocab_size", vocab);
    c.put("eos_token_id", 1);
    c.put("torch_dtype", "float32");
    new ObjectMapper().writeValue(dir.resolve("config.json").toFile(), c);
    SplittableRandom rng = new SplittableRandom(7);
    List<SafetensorsWriter.Entry> entries = new ArrayList<>();
    entries.add(entry("model.embed_tokens.weight", rng, 0.5, 0, vocab, hidden));
    entries.add(entry("model.norm.weight", rng, 0.1, 1, hidden));
    for (int l = 0; l < 2; l++) {
      String p = "model.layers." + l + ".";
      entries.add(entry(p + "input_layernorm.weight", rng, 0.1, 1, hidden));
      entries.add(entry(p + "post_attention_layernorm.weight", rng, 0.1, 1, hidden));
      entries.add(entry(p + "self_attn.q_proj.weight", rng, 0.2, 0, heads * hd, hidden));
      entries.add(entry(p + "self_attn.k_proj.weight", rng, 0.2, 0, kv * hd, hidden));
      entries.add(entry(p + "self_attn.v_proj.weight", rng, 0.2, 0, kv * hd, hidden));
      entries.add(entry(p + "self_attn.q_norm.weight", rng, 0.3, 1, hd));
      entries.add(entry(p + "self_attn.k_norm.weight", rng, 0.3, 1, hd));
      entries.add(entry(p + "self_attn.o_proj.weight", rng, 0.2, 0, hidden, heads * hd));
      entries.add(entry(p + "mlp.gate_proj.weight", rng, 0.2, 0, inter, hidden));
      entries.add(entry(p + "mlp.up_proj.weight", rng, 0.2, 0, inter, hidden));
      entries.add(entry(p + "mlp.down_proj.weight", rng, 0.2, 0, hidden, inter));
    }
    SafetensorsWriter.write(dir.resolve("model.safetensors"), entries);
    Files.writeString(dir.resolve("generation_config.json"), "{\"eos_token_id\": 1}");
  }

  private static SafetensorsWriter.Entry entry(String name, SplittableRandom root, double std, double mean, long... shape) {
    SplittableRandom rng = root.split();
    return new SafetensorsWriter.Entry(name, Dtype.F32, shape, (chunk, n) -> {
      for (int i = 0; i < n; i++) chunk[i] = (float) (mean + rng.nextGaussian() * std);
    });
  }
}
