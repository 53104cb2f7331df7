package io.tandem.inference.hf;

import static io.tandem.inference.hf.Golden.assertClose;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
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

  /** The pool says ahead of a pass whether it must grow for it (a worker runs such a pass off its actor's thread). */
  @Test
  void itSaysAheadWhetherAPassGrowsIt() {
    try (DecoderModel m = load()) {
      assertTrue(m.kvPoolGrowsFor(1, 2), "an empty pool grows for its first row");
      KvCache c = m.newCache();
      m.forward(List.of(c), List.of(new int[] {1, 2}));
      int capacity = m.pool().capacity();
      assertFalse(m.kvPoolGrowsFor(0, capacity), "room for " + capacity + " tokens in the row it has");
      assertTrue(m.kvPoolGrowsFor(0, capacity + 1), "one token more doubles the capacity");
      assertTrue(m.kvPoolGrowsFor(1, 3), "one row, taken: a second doubles the rows");
      c.close();
    }
  }

  /**
   * Whether one more cache would double a large pool (a worker then frees prefixes it keeps first):
   * counted with the caches that hold no row yet but take one at their next write, new or dropped.
   */
  @Test
  void aFullLargePoolSaysWhenOneMoreCacheWouldCopyIt() {
    try (DecoderModel m = load()) {
      // 512 bytes a token: so many rows of 512 slots are the bytes from which a doubling counts as costly.
      int full = (int) (KvPool.COSTLY_GROWTH_BYTES / (512 * 512));
      List<KvCache> caches = new ArrayList<>();
      List<int[]> tokens = new ArrayList<>();
      for (int i = 0; i < full; i++) {
        caches.add(m.newCache());
        tokens.add(i == 0 ? new int[400] : new int[] {1});
      }
      assertFalse(m.newKvCacheCopiesPool(), "an empty pool holds nothing to copy");
      m.forward(caches, tokens);
      assertEquals(full, m.pool().rows());
      assertEquals(KvPool.COSTLY_GROWTH_BYTES, m.pool().bytes());
      assertTrue(m.newKvCacheCopiesPool(), "every row taken");

      caches.remove(full - 1).close();
      assertFalse(m.newKvCacheCopiesPool(), "a row free");
      KvCache fresh = m.newCache();
      assertTrue(m.newKvCacheCopiesPool(), "the free row is owed to the cache opened without one");
      fresh.close();
      assertFalse(m.newKvCacheCopiesPool(), "closed before its first token: the row is free again");

      caches.get(1).drop();
      KvCache other = m.newCache();
      assertTrue(m.newKvCacheCopiesPool(), "two free rows, both owed: a dropped cache takes one again at its next write");
      m.forward(List.of(caches.get(1), other), List.of(new int[] {1}, new int[] {2}));
      assertEquals(full, m.pool().rows(), "both took a free row");
      assertTrue(m.newKvCacheCopiesPool());
      other.close();
      caches.forEach(KvCache::close);

      KvCache a = m.newCache();
      m.forward(List.of(a), List.of(new int[] {1}));
      assertEquals(1, m.pool().rows());
      assertFalse(m.newKvCacheCopiesPool(), "a full pool of one small row copies little");
      a.close();
    }
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
      assertEquals(pool, sharesOf(caches), "the 9 shares add up to the pool's bytes, free rows included, to the byte");
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
      assertEquals(m.pool().bytes(), sharesOf(caches));
      caches.forEach(KvCache::close);
      assertEquals(0, m.pool().rows(), "freed with the last sequence");
      assertEquals(0, m.pool().bytes());
    }
  }

  /** {@code n} caches of 3 tokens each in {@code m}, but the one at {@code longAt} of 100 (the capacity doubles past 64). */
  private static List<KvCache> caches(DecoderModel m, int n, int longAt) {
    List<KvCache> out = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      KvCache c = m.newCache();
      m.forward(List.of(c), List.of(new int[i == longAt ? 100 : 3]));
      out.add(c);
    }
    return out;
  }

  /** A cache of {@code prompt} in {@code m}, after the others; {@code reference} reads it in a model of its own. */
  private static KvCache keptBeside(DecoderModel m, DecoderModel quiet, KvCache reference, int[] prompt) {
    KvCache kept = m.newCache();
    m.forward(List.of(kept), List.of(prompt));
    quiet.forward(List.of(reference), List.of(prompt));
    return kept;
  }

  /** The prompt of the cache the tests keep while others come and go. */
  private static final int[] KEPT = {3, 14, 15, 9, 26, 5, 35, 8};

  @Test
  void aSequenceKeepsItsCacheWhileThePoolGrowsShrinksAndMovesIt() {
    try (DecoderModel grown = load(); DecoderModel quiet = load(); KvCache reference = quiet.newCache()) {
      // Others first (rows 0-5, one of 100 tokens: the capacity doubles past 64), the kept sequence last.
      List<KvCache> others = caches(grown, 6, 5);
      KvCache kept = keptBeside(grown, quiet, reference, KEPT);
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

  /**
   * Caches freed together ({@link KvPool#releasingMany}, a worker's evictions) shrink the pool once,
   * at the end: each halving copies the pool, and a tester's 171 prefixes freed one by one halved it
   * step by step from 4 GiB, holding the worker's thread for 2.6 s. The caches left keep their tokens.
   */
  @Test
  void cachesFreedTogetherShrinkThePoolOnceAtTheEndAndTheRestKeepTheirTokens() {
    try (DecoderModel m = load(); DecoderModel quiet = load(); KvCache reference = quiet.newCache()) {
      List<KvCache> others = caches(m, 20, 0);
      KvCache kept = keptBeside(m, quiet, reference, KEPT);
      int rows = m.pool().rows();
      int capacity = m.pool().capacity();
      assertEquals(32, rows);
      assertEquals(128, capacity);
      m.releasingKvCaches(() -> {
        others.forEach(KvCache::close);
        assertEquals(0, kept.row(), "moved down as the rows below it were freed");
        assertEquals(rows, m.pool().rows(), "not shrunk while caches are being freed");
        assertEquals(capacity, m.pool().capacity());
      });
      assertTrue(m.pool().rows() < rows, "shrunk once they were: " + m.pool().rows() + " rows");
      assertEquals(64, m.pool().capacity(), "the longest cache left holds 8 tokens");
      for (int step = 0; step < 3; step++) {
        int[] next = {(4 + step) % m.config().vocabSize()};
        assertClose("kept, step " + step, quiet.forward(List.of(reference), List.of(next))[0],
            m.forward(List.of(kept), List.of(next))[0]);
      }
      kept.close();
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

  /**
   * A batch of decodes whose caches hold rows apart is brought to neighbouring rows before its step
   * ({@link KvPool#bringTogether}): each cache outside the chosen block trades rows with an idle one
   * inside it, and a batch that changed by one sequence costs one trade. Every cache, moved or not,
   * keeps its tokens: its next logits are those of a model whose rows never moved.
   */
  @Test
  void aDecodeBatchIsBroughtToNeighbouringRowsAndEveryCacheKeepsItsTokens() {
    try (DecoderModel m = load();
        DecoderModel reference = DecoderModel.load(Golden.fixture("qwen2-tiny"), Device.cpu(), Precision.FLOAT32, d -> {}, false)) {
      List<KvCache> caches = new ArrayList<>();
      List<KvCache> references = new ArrayList<>();
      for (int i = 0; i < 7; i++) {
        int[] prompt = new int[3 + 2 * i];
        for (int t = 0; t < prompt.length; t++) prompt[t] = (5 + 7 * i + 3 * t) % m.config().vocabSize();
        caches.add(m.newCache());
        references.add(reference.newCache());
        m.forward(List.of(caches.get(i)), List.of(prompt));
        reference.forward(List.of(references.get(i)), List.of(prompt));
      }
      try {
        int[] rowsBefore = rows(caches);
        step(m, reference, caches, references, new int[] {0, 3, 6});
        int[] rowsAfter = rows(caches);
        assertNeighbours(caches, new int[] {0, 3, 6});
        assertEquals(4, moved(rowsBefore, rowsAfter), "two of the three traded rows with idle caches: "
            + java.util.Arrays.toString(rowsBefore) + " -> " + java.util.Arrays.toString(rowsAfter));

        // The batch changes by one sequence (6 out, 1 in): one trade at most.
        step(m, reference, caches, references, new int[] {0, 3, 6});
        assertEquals(0, moved(rowsAfter, rows(caches)), "a batch already together moves nothing");
        int[] beforeChange = rows(caches);
        int newcomer = -1;
        for (int i = 0; i < 7 && newcomer < 0; i++) {
          if (i != 0 && i != 3 && i != 6 && Math.abs(caches.get(i).row() - caches.get(0).row()) > 2) newcomer = i;
        }
        step(m, reference, caches, references, new int[] {0, 3, newcomer});
        assertNeighbours(caches, new int[] {0, 3, newcomer});
        assertTrue(moved(beforeChange, rows(caches)) <= 2, "one trade for one newcomer: "
            + java.util.Arrays.toString(beforeChange) + " -> " + java.util.Arrays.toString(rows(caches)));

        // Every cache, traded or not, goes on from its own tokens.
        for (int i = 0; i < 7; i++) step(m, reference, caches, references, new int[] {i});
        step(m, reference, caches, references, new int[] {6, 5, 4, 3, 2, 1, 0});
      } finally {
        caches.forEach(KvCache::close);
        references.forEach(KvCache::close);
      }
    }
  }

  /** One decode step of the picked caches in both models: the same logits. */
  private static void step(DecoderModel m, DecoderModel reference, List<KvCache> caches, List<KvCache> references, int[] pick) {
    List<KvCache> xs = new ArrayList<>();
    List<KvCache> ys = new ArrayList<>();
    List<int[]> next = new ArrayList<>();
    for (int i : pick) {
      xs.add(caches.get(i));
      ys.add(references.get(i));
      next.add(new int[] {(11 + 5 * i + caches.get(i).length()) % m.config().vocabSize()});
    }
    float[][] x = m.forward(xs, next);
    float[][] y = reference.forward(ys, next);
    for (int j = 0; j < pick.length; j++) assertClose("sequence " + pick[j] + " of " + java.util.Arrays.toString(pick), y[j], x[j]);
  }

  private static int[] rows(List<KvCache> caches) {
    int[] rows = new int[caches.size()];
    for (int i = 0; i < rows.length; i++) rows[i] = caches.get(i).row();
    return rows;
  }

  private static int moved(int[] before, int[] after) {
    int n = 0;
    for (int i = 0; i < before.length; i++) if (before[i] != after[i]) n++;
    return n;
  }

  private static void assertNeighbours(List<KvCache> caches, int[] pick) {
    int low = Integer.MAX_VALUE;
    int high = Integer.MIN_VALUE;
    for (int i : pick) {
      low = Math.min(low, caches.get(i).row());
      high = Math.max(high, caches.get(i).row());
    }
    assertEquals(pick.length - 1, high - low, "the batch's rows are neighbours: " + java.util.Arrays.toString(rows(caches)));
  }
}
