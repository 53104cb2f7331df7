package io.tandem.orchestrator.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;

/** A scrape reads a histogram as Prometheus' text format requires it, even while requests observe it. */
class HistogramTest {

  @Test
  void aScrapeDuringObservationsSeesBucketsThatNeverDecreaseAndACountEqualToTheInfBucket() throws Exception {
    Histogram h = new Histogram("t", "test", 0.001, 0.01, 0.1, 1.0, 10.0);
    AtomicBoolean scraping = new AtomicBoolean(true);
    Thread observer = new Thread(() -> {
      double[] values = {0.0005, 0.005, 0.05, 0.5, 5, 50};
      for (int i = 0; scraping.get(); i++) h.observe(values[i % values.length]);
    });
    observer.start();
    try {
      // Wait for the first observation, so that every scrape below overlaps the observer.
      while (h.count() == 0) Thread.onSpinWait();
      for (int scrape = 0; scrape < 20_000; scrape++) {
        StringBuilder out = new StringBuilder();
        h.render(out, null);
        List<Long> buckets = new ArrayList<>();
        long count = -1;
        for (String line : out.toString().split("\n")) {
          if (line.startsWith("t_bucket")) buckets.add(Long.parseLong(line.substring(line.indexOf("} ") + 2)));
          if (line.startsWith("t_count ")) count = Long.parseLong(line.substring(8));
        }
        for (int i = 1; i < buckets.size(); i++)
          assertTrue(buckets.get(i - 1) <= buckets.get(i), "buckets never decrease (scrape " + scrape + "):\n" + out);
        assertEquals(buckets.get(buckets.size() - 1), count, "_count is the +Inf bucket (scrape " + scrape + "):\n" + out);
      }
    } finally {
      scraping.set(false);
      observer.join();
    }
  }
}
