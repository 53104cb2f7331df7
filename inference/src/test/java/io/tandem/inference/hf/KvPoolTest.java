package io.tandem.inference.hf;

import static io.tandem.inference.hf.Golden.assertClose;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The pool behind every sequence's KV cache: rows handed out lowest first and kept the lowest (a
 * freed row gets the highest moved into it), grown, shrunk and freed, with the caches' bytes
 * adding up to what the pool holds.
 */
class KvPoolTest {

  private static DecoderModel load() {
    return DecoderModel.load(Golden.fixture("qwen2-tiny"), Device.cpu(), Precision.FLOAT32, d -> {}, true);
  }

  private static long sharesOf(List<KvCache> caches) {
    long sum = 0;
    for (KvCache c : caches) sum += c.bytes();
    return sum;
  }

  @Test
  void rowsStayTheLowestTheBytesAddUpAndTheArraysGoWithTheLastSequence() {
    try (DecoderModel m = load()) {
      List<KvCache> caches = new ArrayList<>();
      for (int i = 0; i < 9; i++) {
        KvCache c = m.newCache();
        assertEquals(0, c.bytes(), "no row before the first token");
        m.forward(List.of(c), List.of(new int[] {1, 2}));
        assertEquals(i, c.row());
        caches.add(c);
      }
      assertEquals(16, m.pool().rows(), "grown by doubling: 1, 2, 4, 8, 16");
      long pool = m.pool().bytes();
      assertTrue(pool - sharesOf(caches) < caches.size() && sharesOf(caches) <= pool,
          "the shares add up to the pool's " + pool + " bytes, free rows included: " + sharesOf(caches));
      caches.get(3).close();
      assertEquals(3, caches.get(8).row(), "the highest row moved into the hole");
      assertEquals(16, m.pool().rows(), "8 of 16 taken: kept (halved, it would be full)");
      caches.remove(3);
      KvCache next = m.newCache();
      m.forward(List.of(next), List.of(new int[] {3}));
      assertEquals(8, next.row());
      caches.add(next);
      while (caches.size() > 2) caches.remove(caches.size() - 1).close();
      assertEquals(4, m.pool().rows(), "halved while no more than 3/8 of it is taken");
      assertTrue(m.pool().bytes() - sharesOf(caches) < 2);
      caches.forEach(KvCache::close);
      assertEquals(0, m.pool().rows(), "freed with the last sequence");
      assertEquals(0, m.pool().bytes());
    }
  }

  @Test
  void aSequenceKeepsItsCacheWhileThePoolGrowsShrinksAndMovesIt() {
    int[] prompt = {3, 14, 15, 9, 26, 5, 35, 8};
    try (DecoderModel grown = load(); DecoderModel quiet = load(); KvCache reference = quiet.newCache()) {
      // Others first (rows 0-5, one of 100 tokens: the capacity doubles past 64), the kept sequence last.
      List<KvCache> others = new ArrayList<>();
      for (int i = 0; i < 6; i++) {
        KvCache c = grown.newCache();
        grown.forward(List.of(c), List.of(new int[i == 5 ? 100 : 3]));
        others.add(c);
      }
      KvCache kept = grown.newCache();
      grown.forward(List.of(kept), List.of(prompt));
      quiet.forward(List.of(reference), List.of(prompt));
      assertEquals(6, kept.row());
      assertEquals(128, grown.pool().capacity());
      others.forEach(KvCache::close);
      assertEquals(0, kept.row(), "moved down as the rows below it were freed");
      assertEquals(2, grown.pool().rows(), "halved while no more than 3/8 of it is taken: 16, 8, 4, 2");
      assertEquals(64, grown.pool().capacity(), "halved: the longest cache left holds 8 tokens");
      // A fork of the kept prefix, in a row of its own.
      try (KvCache fork = kept.forkPrefix(5); KvCache forkReference = reference.forkPrefix(5)) {
        assertEquals(1, fork.row());
        for (int step = 0; step < 3; step++) {
          int[] next = {(4 + step) % grown.config().vocabSize()};
          float[][] x = grown.forward(List.of(kept, fork), List.of(next, next));
          float[][] y = quiet.forward(List.of(reference, forkReference), List.of(next, next));
          assertClose("kept, step " + step, y[0], x[0]);
          assertClose("fork, step " + step, y[1], x[1]);
        }
      }
      kept.close();
      assertThrows(IllegalStateException.class, () -> kept.forkPrefix(1), "a closed cache has nothing to fork");
    }
  }

  @Test
  void aCacheClosedAfterItsModelIsHarmless() {
    DecoderModel m = load();
    KvCache c = m.newCache();
    m.forward(List.of(c), List.of(new int[] {1, 2, 3}));
    m.close();
    assertEquals(0, c.bytes(), "the pool went with its model");
    c.close();
    assertEquals(0, c.bytes());
  }

  @Test
  void compactingGivesBackTheSlackAndADroppedCacheStartsOver() {
    int[] prompt = {3, 14, 15, 9, 26, 5, 35, 8};
    try (DecoderModel m = load(); DecoderModel quiet = load(); KvCache reference = quiet.newCache()) {
      List<KvCache> caches = new ArrayList<>();
      for (int i = 0; i < 9; i++) {
        KvCache c = m.newCache();
        m.forward(List.of(c), List.of(i == 8 ? prompt : new int[i == 0 ? 100 : i == 1 ? 50 : 3]));
        caches.add(c);
      }
      assertEquals(16, m.pool().rows());
      assertEquals(128, m.pool().capacity());
      KvCache kept = caches.get(8);
      caches.remove(2).close();
      caches.remove(0).close(); // 7 of 16 rows taken, the longest 50 tokens: more than 3/8 of each, kept
      assertEquals(16, m.pool().rows());
      assertEquals(128, m.pool().capacity());
      assertEquals(m.pool().bytesFor(7, 50) * 4, m.pool().bytes(), "16 rows of 128 where 8 of 64 would do");

      m.pool().compact();
      assertEquals(8, m.pool().rows());
      assertEquals(64, m.pool().capacity());
      assertEquals(m.pool().bytesFor(7, 50), m.pool().bytes());
      quiet.forward(List.of(reference), List.of(prompt));
      int[] next = {7};
      assertClose("the kept cache after compacting", quiet.forward(List.of(reference), List.of(next))[0],
          m.forward(List.of(kept), List.of(next))[0]);

      KvCache dropped = caches.get(2);
      dropped.drop();
      assertEquals(0, dropped.length());
      assertEquals(0, dropped.bytes(), "a dropped cache holds no row");
      m.forward(List.of(dropped), List.of(new int[] {1, 2}));
      assertEquals(2, dropped.length(), "and takes one again at its next write");
      caches.forEach(KvCache::close);
    }
  }
}
