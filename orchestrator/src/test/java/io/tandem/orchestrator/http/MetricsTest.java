package io.tandem.orchestrator.http;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tandem.protocol.Role;
import io.tandem.protocol.worker.WorkerProtocol.WorkerStats;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** What {@code /metrics} shows of figures that are not there yet, or that a worker cannot tell. */
class MetricsTest {

  @Test
  void aServerThatServedNothingYetShowsItsLabelledCountersAtZero() {
    String text = new Metrics(List.of(), "tandem").render(new WorkerView.Scrape(List.of(), Map.of()));
    for (String series : new String[] {
        "tandem:request_success_total{model_name=\"tandem\",finished_reason=\"stop\"} 0",
        "tandem:request_success_total{model_name=\"tandem\",finished_reason=\"length\"} 0",
        "tandem:request_success_total{model_name=\"tandem\",finished_reason=\"abort\"} 0",
        "tandem:request_success_total{model_name=\"tandem\",finished_reason=\"error\"} 0",
        "tandem:generation_tokens_total{model_name=\"tandem\",model=\"small\"} 0",
        "tandem:generation_tokens_total{model_name=\"tandem\",model=\"large\"} 0",
        "tandem:generation_tokens_total{model_name=\"tandem\",model=\"injected\"} 0"})
      assertTrue(text.lines().anyMatch(series::equals),
          "present at 0 before the first request, so that rate() sees the first one: " + series + "\n" + text);
  }

  /**
   * Each of the paper's counters of a request that ended goes to its own series, with its own count
   * (tester61g: a request through the API has no recaps and skips no takeover, so dropping those two
   * passed the test that sends one).
   */
  @Test
  void eachOfThePapersCountersGoesToItsOwnSeries() {
    Metrics m = new Metrics(List.of(), "tandem");
    // triggers, lookaheads, takeovers, verifies, recaps, negatives, small, large, injected tokens, small and large
    // tokens discarded, takeovers skipped: each a different number.
    m.ended(Metrics.NO_TENANT, "stop", 3, new io.tandem.protocol.Counters(11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22),
        null);
    String text = m.render(new WorkerView.Scrape(List.of(), Map.of()));
    for (String series : new String[] {"tandem:triggers_total{model_name=\"tandem\"} 11",
        "tandem:lookaheads_total{model_name=\"tandem\"} 12", "tandem:takeovers_total{model_name=\"tandem\"} 13",
        "tandem:recaps_total{model_name=\"tandem\"} 15", "tandem:small_tokens_discarded_total{model_name=\"tandem\"} 20",
        "tandem:takeovers_skipped_total{model_name=\"tandem\"} 22",
        "tandem:generation_tokens_total{model_name=\"tandem\",model=\"small\"} 17",
        "tandem:generation_tokens_total{model_name=\"tandem\",model=\"large\"} 18",
        "tandem:generation_tokens_total{model_name=\"tandem\",model=\"injected\"} 19"})
      assertTrue(text.lines().anyMatch(series::equals), series + "\n" + text);
  }

  /**
   * The per-token histograms have vLLM's boundaries (0.025, 0.075, 0.15, ... where the time to first
   * token has 0.02, 0.04, ...), so that a dashboard's {@code le} reads the same on both (tester43b).
   */
  @Test
  void perTokenHistogramsHaveVllmsBoundaries() {
    String text = new Metrics(List.of(), "tandem").render(new WorkerView.Scrape(List.of(), Map.of()));
    for (String name : new String[] {"tandem:inter_token_latency_seconds", "tandem:time_per_output_token_seconds"})
      for (String le : new String[] {"0.01", "0.025", "0.075", "0.15", "0.4", "80.0"})
        assertTrue(text.lines().anyMatch(l -> l.startsWith(name + "_bucket{model_name=\"tandem\",le=\"" + le + "\"}")), name + " " + le + "\n" + text);
    assertTrue(text.lines().anyMatch(l -> l.startsWith("tandem:time_to_first_token_seconds_bucket{model_name=\"tandem\",le=\"0.02\"}")), text);
  }

  /**
   * As vLLM's, the series of requests and tokens carry the served model name ({@code model_name}, the
   * first of the served names, as vLLM's first {@code --served-model-name}), so that a dashboard
   * built for vLLM's selects them; the HTTP ones carry none, a worker's its own model's.
   */
  @Test
  void theSeriesOfRequestsAndTokensCarryTheServedModelName() {
    Metrics m = new Metrics(List.of("acme"), "qwen-\"spec\"");
    m.ttft.observe(0.3);
    m.response("acme", 200);
    String text = m.render(new WorkerView.Scrape(List.of(), Map.of()));
    String label = "model_name=\"qwen-\\\"spec\\\"\"";
    for (String series : new String[] {
        "tandem:num_requests_running{" + label + "} 0",
        "tandem:time_to_first_token_seconds_bucket{" + label + ",le=\"0.5\"} 1",
        "tandem:time_to_first_token_seconds_bucket{" + label + ",le=\"+Inf\"} 1",
        "tandem:time_to_first_token_seconds_count{" + label + "} 1",
        "tandem:time_to_first_token_seconds_sum{" + label + "} 0.3",
        "tandem:prompt_tokens_total{" + label + "} 0",
        "tandem:takeovers_total{" + label + "} 0",
        "tandem:tenant_prompt_tokens_total{" + label + ",tenant=\"acme\"} 0",
        "tandem:http_responses_total{status=\"200\"} 1",
        "tandem:tenant_http_responses_total{tenant=\"acme\",status=\"200\"} 1"})
      assertTrue(text.lines().anyMatch(series::equals), series + "\n" + text);
  }

  /** As vLLM's two, running and waiting are apart (a tester's scrape read running 50, waiting 45 for 50 in flight). */
  @Test
  void runningAndWaitingAreApartAndAddUpToWhatIsInFlight() {
    Metrics m = new Metrics(List.of(), "tandem");
    m.running.set(50); // in flight
    m.waiting.set(45); // of which no output yet
    String text = m.render(new WorkerView.Scrape(List.of(), Map.of()));
    assertTrue(text.lines().anyMatch("tandem:num_requests_running{model_name=\"tandem\"} 5"::equals), text);
    assertTrue(text.lines().anyMatch("tandem:num_requests_waiting{model_name=\"tandem\"} 45"::equals), text);
  }

  @Test
  void anEngineWorkerWhoseCacheIsItsEnginesHasNoCacheBytesSeries() {
    WorkerStats engine = new WorkerStats("engine", "large", "qwen", 4096, 0, 1, 3, 3, 10, 20, 1, 2, 0, 0, 0,
        WorkerStats.CACHE_BYTES_UNKNOWN, 1, 3, 0, 10, 3, 5, 10);
    String text = new Metrics(List.of(), "tandem").render(new WorkerView.Scrape(
        List.of(new WorkerView.Report(Role.large, "local", "engine", engine)), Map.of(Role.large, 1)));
    assertTrue(text.contains("tandem:worker_num_running{role=\"large\",node=\"local\",worker=\"engine\",model_name=\"qwen\"} 1\n"),
        text);
    assertFalse(text.contains("tandem:kv_cache_usage_bytes{"), "no cache bytes it cannot tell:\n" + text);
    assertFalse(text.contains("tandem:kv_cache_usage_perc{") || text.contains("tandem:kv_cache_capacity_bytes{"), text);
  }

  /** As vLLM's kv_cache_usage_perc: the share of the budget that sessions in flight hold, the prefixes kept aside. */
  @Test
  void aWorkersCacheUsageIsTheShareOfItsBudgetThatSessionsInFlightHold() {
    WorkerStats small = new WorkerStats("small", "small", "demo", 4096, 0, 1, 3, 3, 10, 20, 1, 2, 0, 0, 0,
        300, 1, 3, 0, 10, 3, 5, 10, 0, 0, 0, false, 100, 400);
    String text = new Metrics(List.of(), "tandem").render(new WorkerView.Scrape(
        List.of(new WorkerView.Report(Role.small, "local", "small", small)), Map.of(Role.small, 1)));
    String labels = "{role=\"small\",node=\"local\",worker=\"small\",model_name=\"demo\"}";
    assertTrue(text.contains("tandem:kv_cache_usage_perc" + labels + " 0.25\n"), text);
    assertTrue(text.contains("tandem:kv_cache_capacity_bytes" + labels + " 400\n"), text);
    assertTrue(text.contains("tandem:kv_cache_usage_bytes" + labels + " 300\n"), text);
  }
}
