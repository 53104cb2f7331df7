package io.tandem.inference.hf;

import static io.tandem.inference.hf.Golden.argmax;
import static io.tandem.inference.hf.Golden.assertClose;
import static io.tandem.inference.hf.Golden.concat;
import static io.tandem.inference.hf.Golden.floats;
import static io.tandem.inference.hf.Golden.golden;
import static io.tandem.inference.hf.Golden.ints;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import ai.djl.ndarray.NDManager;
import com.fasterxml.jackson.databind.JsonNode;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The decoder reproduces what Hugging Face transformers computes for the tiny fixture
 * checkpoints (qwen2-tiny: bf16, biases, tied; llama-tiny: f32, two shards, GQA 4:1;
 * llama3-rope-tiny: llama3 rope scaling, list-valued eos).
 */
class DecoderModelGoldenTest {

  private static final Map<String, DecoderModel> MODELS = new HashMap<>();

  static synchronized DecoderModel model(String fixture) {
    return MODELS.computeIfAbsent(fixture, f -> DecoderModel.load(Golden.fixture(f)));
  }

  @AfterAll
  static void closeModels() {
    MODELS.values().forEach(DecoderModel::close);
    MODELS.clear();
  }

  @ParameterizedTest(name = "{0}")
  @ValueSource(strings = {"qwen2-tiny", "llama-tiny", "llama3-rope-tiny"})
  void prefillLogitsAtEveryPositionMatchHuggingFace(String fixture) {
    JsonNode prefill = golden(fixture).get("prefill");
    DecoderModel model = model(fixture);
    try (KvCache cache = model.newCache()) {
      float[][] logits = model.forwardAllPositions(List.of(cache), List.of(ints(prefill.get("input_ids")))).get(0);
      assertClose("prefill logits", floats(prefill.get("logits")), concat(logits));
      int[] argmax = Arrays.stream(logits).mapToInt(Golden::argmax).toArray();
      assertArrayEquals(ints(prefill.get("argmax_per_position")), argmax);
    }
  }

  @ParameterizedTest(name = "{0}")
  @ValueSource(strings = {"qwen2-tiny", "llama-tiny", "llama3-rope-tiny"})
  void prefillIntermediatesMatchHuggingFace(String fixture) {
    JsonNode prefill = golden(fixture).get("prefill");
    JsonNode inter = prefill.get("intermediates");
    DecoderModel model = model(fixture);
    Map<String, float[]> seen = new HashMap<>();
    try (KvCache cache = model.newCache()) {
      model.forward(
          List.of(cache), List.of(ints(prefill.get("input_ids"))), true, (name, values, shape) -> seen.put(name, values));
    }
    assertClose("embeddings", floats(inter.get("embeddings")), seen.get("embeddings"));
    JsonNode layerOutputs = inter.get("layer_outputs");
    for (int l = 0; l < layerOutputs.size(); l++) {
      assertClose("layer " + l + " output", floats(layerOutputs.get(l)), seen.get("layer" + l + ".output"));
    }
    assertClose("final_norm_output", floats(inter.get("final_norm_output")), seen.get("final_norm_output"));
    inter.get("layer0").fields().forEachRemaining(
        e -> assertClose("layer0." + e.getKey(), floats(e.getValue()), seen.get("layer0." + e.getKey())));

    assertClose("rope_inv_freq", floats(inter.get("rope_inv_freq")), model.rope().invFreq());
    int t = prefill.get("position_ids").size();
    int hd = model.config().headDim();
    float[] cos = new float[t * hd];
    float[] sin = new float[t * hd];
    model.rope().fill(ints(prefill.get("position_ids")), cos, sin);
    assertClose("rope_cos", floats(inter.get("rope_cos")), cos);
    assertClose("rope_sin", floats(inter.get("rope_sin")), sin);
  }

  @ParameterizedTest(name = "{0}")
  @ValueSource(strings = {"qwen2-tiny", "llama-tiny", "llama3-rope-tiny"})
  void cachedDecodeStepsMatchHuggingFaceAndAFullPass(String fixture) {
    JsonNode inc = golden(fixture).get("incremental_decode");
    DecoderModel model = model(fixture);
    int[] prompt = ints(inc.get("prompt_ids"));
    try (KvCache cache = model.newCache()) {
      float[] last = model.forward(List.of(cache), List.of(prompt))[0];
      assertClose("prompt last position logits", floats(inc.get("prompt_last_position_logits")), last);

      JsonNode layer0 = inc.get("layer0_cache_after_prefill");
      try (NDManager m = NDManager.newBaseManager()) {
        assertClose("layer0 cached keys", floats(layer0.get("keys")), cache.keys(0, prompt.length, m).toFloatArray());
        assertClose("layer0 cached values", floats(layer0.get("values")), cache.values(0, prompt.length, m).toFloatArray());
      }

      for (JsonNode step : inc.get("steps")) {
        assertEquals(step.get("cache_length_before").asInt(), cache.length());
        float[] logits = model.forward(List.of(cache), List.of(new int[] {step.get("input_id").asInt()}))[0];
        assertClose("decode step at position " + step.get("position_id"), floats(step.get("logits")), logits);
      }
    }
    try (KvCache fresh = model.newCache()) {
      float[][] full = model.forwardAllPositions(List.of(fresh), List.of(ints(inc.get("full_sequence_ids")))).get(0);
      float[][] tail = Arrays.copyOfRange(full, full.length - 5, full.length);
      assertClose("full-sequence pass", floats(inc.get("full_sequence_logits_at_positions")), concat(tail));
    }
  }

  @ParameterizedTest(name = "{0}")
  @ValueSource(strings = {"qwen2-tiny", "llama-tiny", "llama3-rope-tiny"})
  void greedyGenerationReproducesHuggingFaceTokens(String fixture) {
    JsonNode greedy = golden(fixture).get("greedy_generation");
    int[] generated =
        generateGreedy(model(fixture), ints(greedy.get("prompt_ids")), greedy.get("max_new_tokens").asInt(), Set.of());
    assertArrayEquals(ints(greedy.get("new_token_ids")), generated);
  }

  @ParameterizedTest(name = "{0}")
  @ValueSource(strings = {"qwen2-tiny", "llama-tiny", "llama3-rope-tiny"})
  void generationStopsRightAfterEmittingAnEosToken(String fixture) {
    JsonNode greedy = golden(fixture).get("greedy_generation");
    JsonNode stop = greedy.get("eos_stop_case");
    Set<Integer> eos = Arrays.stream(ints(stop.get("eos_token_id"))).boxed().collect(Collectors.toSet());
    int[] generated =
        generateGreedy(model(fixture), ints(greedy.get("prompt_ids")), greedy.get("max_new_tokens").asInt(), eos);
    assertArrayEquals(ints(stop.get("new_token_ids")), generated);
  }

  @ParameterizedTest(name = "{0}")
  @ValueSource(strings = {"qwen2-tiny", "llama-tiny", "llama3-rope-tiny"})
  void leftPaddedBatchIsReproducedByOneBatchedForwardOfTwoLengths(String fixture) {
    JsonNode batched = golden(fixture).get("batched_left_padded");
    DecoderModel model = model(fixture);
    int pad = batched.get("pad_token_id").asInt();
    Set<Integer> eos = Set.copyOf(model.config().eosTokenIds());
    int rows = batched.get("input_ids").size();
    List<int[]> prompts = new ArrayList<>();
    for (int r = 0; r < rows; r++) {
      // The padded row's real tokens are where the attention mask is 1; positions restart at 0.
      int[] ids = ints(batched.get("input_ids").get(r));
      int[] mask = ints(batched.get("attention_mask").get(r));
      prompts.add(java.util.stream.IntStream.range(0, ids.length).filter(i -> mask[i] == 1).map(i -> ids[i]).toArray());
    }
    assertEquals(12, prompts.get(0).length);
    assertEquals(7, prompts.get(1).length);

    List<KvCache> caches = new ArrayList<>();
    for (int r = 0; r < rows; r++) {
      caches.add(model.newCache());
    }
    try {
      List<float[][]> logits = model.forwardAllPositions(caches, prompts);
      int maxNew = batched.get("greedy_max_new_tokens").asInt();
      int[][] generated = new int[rows][maxNew];
      boolean[] done = new boolean[rows];
      for (int r = 0; r < rows; r++) {
        JsonNode golden = batched.get("rows").get(r);
        float[][] rowLogits = logits.get(r);
        assertClose("row " + r + " all real positions", floats(golden.get("logits_all_real_positions")), concat(rowLogits));
        assertClose("row " + r + " last position", floats(golden.get("logits_last_real_position")), rowLogits[rowLogits.length - 1]);
        assertClose(
            "row " + r + " vs unpadded single row",
            floats(golden.get("unpadded_single_row_logits_last_position")),
            rowLogits[rowLogits.length - 1]);
        generated[r][0] = argmax(rowLogits[rowLogits.length - 1]);
        done[r] = eos.contains(generated[r][0]);
      }
      for (int step = 1; step < maxNew; step++) {
        // Every unfinished row decodes in the same forward pass; finished rows get pad, as generate() does.
        List<KvCache> active = new ArrayList<>();
        List<int[]> tokens = new ArrayList<>();
        List<Integer> which = new ArrayList<>();
        for (int r = 0; r < rows; r++) {
          if (done[r]) {
            generated[r][step] = pad;
          } else {
            active.add(caches.get(r));
            tokens.add(new int[] {generated[r][step - 1]});
            which.add(r);
          }
        }
        if (active.isEmpty()) {
          continue;
        }
        float[][] next = model.forward(active, tokens);
        for (int i = 0; i < which.size(); i++) {
          int r = which.get(i);
          generated[r][step] = argmax(next[i]);
          done[r] = eos.contains(generated[r][step]);
        }
      }
      for (int r = 0; r < rows; r++) {
        assertArrayEquals(ints(batched.get("rows").get(r).get("greedy_new_token_ids")), generated[r], "row " + r);
      }
    } finally {
      caches.forEach(KvCache::close);
    }
  }

  /** The hand-written argmax loop over the cache that the fixtures check generate() against. */
  static int[] generateGreedy(DecoderModel model, int[] prompt, int maxNewTokens, Set<Integer> eos) {
    List<Integer> out = new ArrayList<>();
    try (KvCache cache = model.newCache()) {
      int[] input = prompt;
      for (int i = 0; i < maxNewTokens; i++) {
        int next = argmax(model.forward(List.of(cache), List.of(input))[0]);
        out.add(next);
        if (eos.contains(next)) {
          break;
        }
        input = new int[] {next};
      }
    }
    return out.stream().mapToInt(Integer::intValue).toArray();
  }
}
