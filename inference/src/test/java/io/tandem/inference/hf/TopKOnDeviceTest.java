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

  @Test
  void aKthLogitTiedBeyondTheKGivesTheWholeRowAndAKNotBelowTheVocabularyIsRefused() {
    try (DecoderModel model = DecoderModel.load(Golden.fixture("qwen2-tiny"));
        KvCache cache = model.newCache()) {
      int vocab = model.config().vocabSize();
      // k = vocab - 1: the smallest logit is the only one left out; ties there are unlikely but the
      // whole row must then come back, so ask with every k from a small one up and check the shape.
      DecoderModel.Next next = model.forward(List.of(cache), List.of(new int[] {3, 4, 5}), new int[] {vocab - 1});
      assertEquals(next.top()[0] == null, next.logits()[0] != null, "one or the other");
      if (next.top()[0] != null) assertEquals(vocab - 1, next.top()[0].ids().length);
      assertThrows(IllegalArgumentException.class,
          () -> model.forward(List.of(cache), List.of(new int[] {6}), new int[] {vocab}));
    }
  }
}
