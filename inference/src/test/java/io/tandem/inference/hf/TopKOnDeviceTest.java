package io.tandem.inference.hf;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.tandem.inference.sampling.Sampler;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Top-k sampling's candidates chosen where the logits are ({@link DecoderModel#forward(List, List,
 * int[])}): the same ids and logits the sampler would pick from the whole row, beside whole rows
 * and argmax-only sequences in one batch, prefills and decodes alike.
 */
class TopKOnDeviceTest {

  @Test
  void candidatesAreTheIdsAtLeastTheKthLargestWithTheirLogits() {
    try (DecoderModel model = DecoderModel.load(Golden.fixture("qwen2-tiny"))) {
      int vocab = model.config().vocabSize();
      List<KvCache> caches = new ArrayList<>();
      List<int[]> prompts = new ArrayList<>();
      for (int b = 0; b < 4; b++) {
        caches.add(model.newCache());
        prompts.add(new int[] {11 + b, 40 + 3 * b, 7, 200 - b, 5 + b});
      }
      try {
        int[][] rows = {null, null, null, null};
        for (int step = 0; step < 3; step++) {
          // The whole rows first, from copies of the caches, then the same pass asking for top-k.
          List<KvCache> copies = new ArrayList<>();
          for (KvCache c : caches) copies.add(c.forkPrefix(c.length()));
          float[][] whole;
          try {
            whole = model.forward(copies, prompts, new int[] {0, 0, 0, 0}).logits();
          } finally {
            copies.forEach(KvCache::close);
          }
          int[] want = {5, DecoderModel.WHOLE_ROW, 17, DecoderModel.ARGMAX_ONLY};
          DecoderModel.Next next = model.forward(caches, prompts, want);
          for (int b : new int[] {0, 2}) {
            DecoderModel.TopLogits top = next.top()[b];
            assertNotNull(top, "sequence " + b + " at step " + step);
            int[] expected = Sampler.topK(whole[b], want[b]);
            int[] ids = top.ids().clone();
            Arrays.sort(ids);
            assertArrayEquals(expected, ids, "sequence " + b + " at step " + step);
            for (int i = 0; i < top.ids().length; i++) {
              assertEquals(whole[b][top.ids()[i]], top.logits()[i], 1e-5f, "logit of " + top.ids()[i]);
            }
            assertNull(next.logits()[b]);
          }
          assertEquals(vocab, next.logits()[1].length);
          assertNull(next.top()[1]);
          assertNull(next.logits()[3]);
          assertNull(next.top()[3]);
          for (int b = 0; b < 4; b++) prompts.set(b, new int[] {next.argmax()[b]});
        }
      } finally {
        caches.forEach(KvCache::close);
      }
    }
  }

  /**
   * A row whose k-th logit ties with logits beyond the k comes back whole, as Hugging Face's
   * TopKLogitsWarper keeps every logit at least the k-th; a row without such a tie gets its k
   * candidates (tester61a: no test built a tie, and dropping the fallback passed).
   */
  @Test
  void aKthLogitTiedBeyondTheKGivesTheWholeRow() {
    try (ai.djl.ndarray.NDManager manager = ai.djl.ndarray.NDManager.newBaseManager("PyTorch")) {
      ai.djl.ndarray.NDArray logits = manager.create(new float[][] {
          {5f, 4f, 3f, 3f, 1f}, // the 3rd largest, 3, ties with the 4th
          {1f, 5f, 2f, 4f, 3f}, // no tie: ids 1, 3, 4
          {9f, 9f, 9f, 0f, 0f}}); // ties within the k only: still its k
      int[] want = {3, 3, 3};
      DecoderModel.TopLogits[] top = new DecoderModel.TopLogits[3];
      DecoderModel.readTopK(logits, want, 3, top);
      assertEquals(DecoderModel.WHOLE_ROW, want[0]);
      assertNull(top[0]);
      assertEquals(3, want[1]);
      int[] ids = top[1].ids().clone();
      Arrays.sort(ids);
      assertArrayEquals(new int[] {1, 3, 4}, ids);
      float[] values = top[1].logits().clone();
      Arrays.sort(values);
      assertArrayEquals(new float[] {3f, 4f, 5f}, values);
      assertEquals(3, want[2]);
      int[] tiedWithin = top[2].ids().clone();
      Arrays.sort(tiedWithin);
      assertArrayEquals(new int[] {0, 1, 2}, tiedWithin);
    }
  }

  @Test
  void aKNotBelowTheVocabularyIsRefused() {
    try (DecoderModel model = DecoderModel.load(Golden.fixture("qwen2-tiny"));
        KvCache cache = model.newCache()) {
      int vocab = model.config().vocabSize();
      assertThrows(IllegalArgumentException.class,
          () -> model.forward(List.of(cache), List.of(new int[] {6}), new int[] {vocab}));
    }
  }
}
