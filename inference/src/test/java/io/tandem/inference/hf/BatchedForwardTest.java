package io.tandem.inference.hf;

import static io.tandem.inference.hf.Golden.assertClose;
import static io.tandem.inference.hf.Golden.floats;
import static io.tandem.inference.hf.Golden.golden;
import static io.tandem.inference.hf.Golden.ints;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Continuous batching and rollback on the decoder, checked against the qwen2-tiny goldens. */
class BatchedForwardTest {

  private static final String FIXTURE = "qwen2-tiny";

  private static DecoderModel model;

  @BeforeAll
  static void load() {
    model = DecoderModel.load(Golden.fixture(FIXTURE));
  }

  @AfterAll
  static void close() {
    model.close();
  }

  @Test
  void aDecodeStepAndAnotherSequencesPrefillShareOneForwardPass() {
    JsonNode inc = golden(FIXTURE).get("incremental_decode");
    JsonNode row1 = golden(FIXTURE).get("batched_left_padded").get("rows").get(1);
    int[] paddedRow1 = ints(golden(FIXTURE).get("batched_left_padded").get("input_ids").get(1));
    int[] prompt1 = java.util.Arrays.copyOfRange(paddedRow1, 5, 12);
    try (KvCache decoding = model.newCache();
        KvCache prefilling = model.newCache()) {
      model.forward(List.of(decoding), List.of(ints(inc.get("prompt_ids"))));
      JsonNode step0 = inc.get("steps").get(0);

      float[][] logits =
          model.forward(List.of(decoding, prefilling), List.of(new int[] {step0.get("input_id").asInt()}, prompt1));

      assertClose("decode step beside a prefill", floats(step0.get("logits")), logits[0]);
      assertClose("prefill beside a decode step", floats(row1.get("logits_last_real_position")), logits[1]);
      assertEquals(13, decoding.length());
      assertEquals(7, prefilling.length());
    }
  }

  @Test
  void decodesOfSequencesOfDifferentLengthsShareOnePassAndEachGetsItsOwnLogits() {
    int[] prompt = ints(golden(FIXTURE).get("incremental_decode").get("prompt_ids"));
    int[] lengths = {prompt.length, prompt.length - 3, 2};
    java.util.List<KvCache> batched = new java.util.ArrayList<>();
    java.util.List<KvCache> alone = new java.util.ArrayList<>();
    try {
      for (int len : lengths) {
        int[] head = java.util.Arrays.copyOf(prompt, len);
        KvCache a = model.newCache();
        KvCache b = model.newCache();
        batched.add(a);
        alone.add(b);
        model.forward(List.of(a), List.of(head));
        model.forward(List.of(b), List.of(head));
      }
      // Two steps, so the second reads the keys and values the first wrote into each cache.
      for (int step = 0; step < 2; step++) {
        List<int[]> next = List.of(new int[] {5 + step}, new int[] {9 + step}, new int[] {13 + step});
        float[][] together = model.forward(batched, next);
        for (int i = 0; i < lengths.length; i++) {
          float[] solo = model.forward(List.of(alone.get(i)), List.of(next.get(i)))[0];
          assertClose("step " + step + ", sequence " + i + " of length " + lengths[i], solo, together[i]);
          assertEquals(lengths[i] + step + 1, batched.get(i).length());
        }
      }
    } finally {
      batched.forEach(KvCache::close);
      alone.forEach(KvCache::close);
    }
  }

  @Test
  void truncatingTheCacheRollsBackALookahead() {
    JsonNode inc = golden(FIXTURE).get("incremental_decode");
    int[] prompt = ints(inc.get("prompt_ids"));
    JsonNode step0 = inc.get("steps").get(0);
    try (KvCache cache = model.newCache()) {
      model.forward(List.of(cache), List.of(prompt));
      model.forward(List.of(cache), List.of(new int[] {7, 8, 9})); // a lookahead that gets discarded
      assertEquals(prompt.length + 3, cache.length());

      cache.truncate(prompt.length);
      float[] logits = model.forward(List.of(cache), List.of(new int[] {step0.get("input_id").asInt()}))[0];

      assertClose("decode after rollback", floats(step0.get("logits")), logits);
    }
  }

  @Test
  void cacheReportsItsMemoryAndGrowsPastItsFirstAllocation() {
    HfConfig c = model.config();
    assertEquals(2L * c.numHiddenLayers() * c.numKeyValueHeads() * c.headDim() * 4, model.kvBytesPerToken());
    try (KvCache cache = model.newCache()) {
      assertEquals(0, cache.bytes());
      model.forward(List.of(cache), List.of(new int[100]));
      assertTrue(cache.capacity() >= 100);
      // Alone in its model's pool, the cache's share is the whole pool: its row and the free ones.
      assertEquals(model.pool().bytes(), cache.bytes());
      assertTrue(cache.bytes() >= cache.capacity() * model.kvBytesPerToken());
      assertThrows(IllegalArgumentException.class, () -> cache.truncate(101));
    }
  }

  @Test
  void aSequenceLongerThanMaxPositionEmbeddingsIsRefused() {
    try (KvCache cache = model.newCache()) {
      int max = model.config().maxPositionEmbeddings();
      IllegalArgumentException e =
          assertThrows(IllegalArgumentException.class, () -> model.forward(List.of(cache), List.of(new int[max + 1])));
      assertEquals("sequence of " + (max + 1) + " tokens exceeds the context length " + max, e.getMessage());
      assertEquals(0, cache.length());
    }
  }
}
