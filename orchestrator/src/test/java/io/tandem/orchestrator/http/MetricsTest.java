package io.tandem.orchestrator.http;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** What {@code /metrics} shows before anything happened: what an operator's first scrape reads. */
class MetricsTest {

  @Test
  void aServerThatServedNothingYetShowsItsLabelledCountersAtZero() {
    String text = new Metrics().render(new WorkerView.Scrape(List.of(), Map.of()));
    for (String series : new String[] {
        "tandem:request_success_total{finished_reason=\"stop\"} 0",
        "tandem:request_success_total{finished_reason=\"length\"} 0",
        "tandem:request_success_total{finished_reason=\"abort\"} 0",
        "tandem:request_success_total{finished_reason=\"error\"} 0",
        "tandem:generation_tokens_total{model=\"small\"} 0",
        "tandem:generation_tokens_total{model=\"large\"} 0",
        "tandem:generation_tokens_total{model=\"injected\"} 0"})
      assertTrue(text.lines().anyMatch(series::equals),
          "present at 0 before the first request, so that rate() sees the first one: " + series + "\n" + text);
  }
}
