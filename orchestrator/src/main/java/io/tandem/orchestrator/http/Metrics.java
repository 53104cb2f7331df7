package io.tandem.orchestrator.http;

import io.tandem.protocol.Author;
import io.tandem.protocol.Counters;
import io.tandem.protocol.Role;
import io.tandem.protocol.worker.WorkerProtocol.WorkerStats;
import java.util.Arrays;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.LongAdder;

/**
 * The server's Prometheus metrics, named as vLLM names its own ({@code vllm:x} becomes
 * {@code tandem:x}) where one exists, plus Tandem's: tokens by model, takeovers, recaps. The
 * series of requests and tokens carry the served model name as vLLM's carry theirs ({@code
 * model_name}, the first of {@code tandem.http.served-model-names}, as vLLM labels with the first of
 * {@code --served-model-name}), so that a dashboard built for vLLM's finds them once its {@code vllm:}
 * reads {@code tandem:} (README: a Prometheus relabelling that renames the families that mean what
 * vLLM's mean); a worker's series carry its own model's name, and the HTTP ones none.
 */
public final class Metrics {
  private static final double[] LATENCY = {0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0,
      2.5, 5.0, 7.5, 10.0, 20.0, 40.0, 80.0, 160.0, 640.0, 2560.0};
  /**
   * Between output tokens and per output token: vLLM's 19 boundaries (0.01 to 80 s, {@code
   * vllm/v1/metrics/loggers.py}) with 0.001 and 0.005 below them, as this server's small models
   * write a token in a few milliseconds: a dashboard's {@code le="0.025"} reads the same as on
   * vLLM's (they were the time to first token's, which has no 0.025).
   */
  private static final double[] PER_TOKEN = {0.001, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75,
      1.0, 2.5, 5.0, 7.5, 10.0, 20.0, 40.0, 80.0};
  private static final double[] E2E = {0.01, 0.05, 0.1, 0.3, 0.5, 0.8, 1.0, 1.5, 2.0, 2.5, 5.0, 10.0, 15.0, 20.0,
      30.0, 40.0, 50.0, 60.0, 120.0, 240.0, 480.0, 960.0, 1920.0, 7680.0};

  /** Requests in flight: admitted and not yet answered in full, those without output yet included. */
  final AtomicInteger running = new AtomicInteger();
  /** Requests admitted that have no output yet. */
  final AtomicInteger waiting = new AtomicInteger();
  /** The server's open HTTP connections (set by the server; none until then). */
  volatile java.util.function.IntSupplier openConnections = () -> 0;
  final Histogram ttft = new Histogram("tandem:time_to_first_token_seconds", "Time to first output token.", LATENCY);
  final Histogram interToken = new Histogram("tandem:inter_token_latency_seconds", "Time between output tokens.", PER_TOKEN);
  final Histogram perOutputToken = new Histogram("tandem:time_per_output_token_seconds",
      "Mean time per output token after the first, per request.", PER_TOKEN);
  final Histogram e2e = new Histogram("tandem:e2e_request_latency_seconds", "End-to-end latency of a request.", E2E);
  final Histogram queueTime = new Histogram("tandem:request_queue_time_seconds", "Time a request's model steps waited in"
      + " workers' queues before a worker took them, summed over its steps (as vLLM's request_queue_time_seconds, with a"
      + " takeover's wait for the large worker included).", E2E);
  /** vLLM's buckets for token counts: 1, 2, 5 times the powers of ten ({@code build_1_2_5_buckets}), here up to 10^6. */
  private static final double[] TOKENS = oneTwoFive(1_000_000);
  final Histogram requestPromptTokens = new Histogram("tandem:request_prompt_tokens",
      "Prompt tokens of each request that ran (as vLLM's request_prompt_tokens).", TOKENS);
  final Histogram requestGenerationTokens = new Histogram("tandem:request_generation_tokens",
      "Output tokens of each request that ran (as vLLM's request_generation_tokens).", TOKENS);
  /** Counters by tenant (the key's name, never the key) and, where it has one, a second label. */
  private final Map<List<String>, LongAdder> generationTokens = new ConcurrentHashMap<>();
  private final Map<List<String>, LongAdder> promptTokens = new ConcurrentHashMap<>();
  private final Map<List<String>, LongAdder> success = new ConcurrentHashMap<>();
  private final Map<List<String>, LongAdder> responses = new ConcurrentHashMap<>();
  private final Map<List<String>, LongAdder> cancelled = new ConcurrentHashMap<>();
  private final LongAdder takeovers = new LongAdder();
  private final LongAdder takeoversSkipped = new LongAdder();
  private final LongAdder degraded = new LongAdder();
  private final LongAdder recaps = new LongAdder();
  private final LongAdder lookaheads = new LongAdder();
  private final LongAdder triggers = new LongAdder();
  private final LongAdder discardedSmall = new LongAdder();
  /** {@code model_name="..."}: the label of every series of requests and tokens. */
  private final String modelLabel;

  /**
   * Metrics whose per-tenant counters of each of {@code tenants} are there at 0 from the start
   * (all but {@code tandem:tenant_http_responses_total}, whose status codes are not known in
   * advance), as {@link #withZeros} does for the server-wide ones.
   *
   * @param modelName the {@code model_name} label: the first served model name
   */
  Metrics(Collection<String> tenants, String modelName) {
    this.modelLabel = "model_name=\"" + esc(modelName) + '"';
    for (String t : tenants) {
      promptTokens.put(List.of(t, ""), new LongAdder());
      cancelled.put(List.of(t, ""), new LongAdder());
      for (Author a : Author.values()) generationTokens.put(List.of(t, a.name()), new LongAdder());
      for (String reason : FINISH_REASONS) success.put(List.of(t, reason), new LongAdder());
    }
  }

  /** An HTTP response to {@code tenant} ({@link #NO_TENANT} before the key was checked). */
  void response(String tenant, int status) {
    add(responses, tenant, Integer.toString(status), 1);
  }

  /**
   * The tenant label of a response sent before an API key was accepted: a 401, or an answer to a
   * path that asks for none (an unknown endpoint, a wrong method).
   */
  static final String NO_TENANT = "unauthenticated";

  /**
   * The finish reason of a request whose client went away before its end, or that the server gave up
   * on at its shutdown deadline, as vLLM v1 counts both in {@code vllm:request_success_total} (its
   * {@code FinishReason.ABORT}: a client's abort, and what its engine still runs when its shutdown
   * timeout passes).
   */
  static final String ABORT = "abort";

  /**
   * The finish reason of a request that ended in an error object once its session started (a worker
   * lost with none to take over, a deadline, a model error), streamed or not, as vLLM v1 counts a
   * request-level internal error ({@code FinishReason.ERROR}); one cut at the shutdown deadline is an
   * {@link #ABORT}.
   */
  static final String ERROR = "error";

  /** The finish reasons {@code request_success_total} counts, as vLLM v1's {@code FinishReason} names them. */
  private static final String[] FINISH_REASONS = {"stop", "length", ABORT, ERROR};

  /**
   * A request that ended: {@code finishReason} the OpenAI finish reason, {@link #ABORT} or {@link
   * #ERROR}, or null for a request its tenant's own limit refused after it started (counted in
   * {@code http_responses_total} alone, as the 429s of its other limits are, its {@code prompt} then
   * 0); its prompt and output tokens count however it ended, as the workers processed them.
   */
  void ended(String tenant, String finishReason, int prompt, Counters c, int[] tokensByAuthor) {
    if (finishReason != null) add(success, tenant, finishReason, 1);
    add(promptTokens, tenant, "", prompt);
    if (c != null) {
      add(generationTokens, tenant, "small", c.smallTokens());
      add(generationTokens, tenant, "large", c.largeTokens());
      add(generationTokens, tenant, "injected", c.injectedTokens());
      takeovers.add(c.takeovers());
      takeoversSkipped.add(c.takeoversSkipped());
      recaps.add(c.recaps());
      lookaheads.add(c.lookaheads());
      triggers.add(c.triggers());
      discardedSmall.add(c.smallTokensDiscarded());
    } else {
      for (Author a : Author.values()) add(generationTokens, tenant, a.name(), tokensByAuthor[a.ordinal()]);
    }
  }

  /**
   * A request that ended with its answer, finished by one model alone without a worker of the other
   * role ({@code tandem.session.on-large-loss = degrade}, {@code on-small-loss = large}; its answer
   * says {@code tandem.degraded: true}).
   */
  void degraded() {
    degraded.increment();
  }

  /**
   * A request the server failed before its session started (no worker of the role to count its
   * prompt, none counting it in time): an {@code error}, as a session's failure is, so that an alert
   * on that series sees a role's outage whichever role it is.
   */
  void failedBeforeStart(String tenant) {
    add(success, tenant, ERROR, 1);
  }

  /** 1, 2, 5, 10, 20, 50, ... up to {@code max}, as vLLM's {@code build_1_2_5_buckets}. */
  static double[] oneTwoFive(long max) {
    List<Double> out = new java.util.ArrayList<>();
    for (long power = 1; power <= max; power *= 10)
      for (long m : new long[] {1, 2, 5})
        if (m * power <= max) out.add((double) (m * power));
    return out.stream().mapToDouble(Double::doubleValue).toArray();
  }

  void cancelled(String tenant) {
    add(cancelled, tenant, "", 1);
  }

  private static void add(Map<List<String>, LongAdder> m, String tenant, String label, long n) {
    if (n > 0) m.computeIfAbsent(List.of(tenant, label), k -> new LongAdder()).add(n);
  }

  /** The text format, with the workers' figures of this moment. */
  String render(WorkerView.Scrape workers) {
    StringBuilder out = new StringBuilder(8192);
    // As vLLM's two, running and waiting are apart: their sum is what is in flight.
    int waitingNow = waiting.get();
    String model = modelLabel;
    gauge(out, "tandem:num_requests_running", model, "Requests running: admitted, with output started.",
        Math.max(0, running.get() - waitingNow));
    gauge(out, "tandem:num_requests_waiting", model, "Requests admitted that have no output yet.", waitingNow);
    gauge(out, "tandem:http_connections_open", null, "HTTP connections open (at most akka.http.server.max-connections; the"
        + " longest idle close near it).", openConnections.getAsInt());
    for (Histogram h : List.of(ttft, interToken, perOutputToken, e2e, queueTime, requestPromptTokens, requestGenerationTokens))
      h.render(out, model);
    counter(out, "tandem:prompt_tokens_total", model, "Prompt tokens processed (as the workers counted them).", sum(promptTokens));
    labelled(out, "tandem:generation_tokens_total", model, "Output tokens by the model that wrote them.", "model",
        withZeros(byLabel(generationTokens), Arrays.stream(Author.values()).map(Author::name).toArray(String[]::new)));
    labelled(out, "tandem:request_success_total", model, "Requests ended, by finish reason: stop and length (as OpenAI's),"
        + " abort (the client went away, or the server gave up on it at its shutdown deadline) and error (ended in an error"
        + " object, streamed or not), as vLLM's.",
        "finished_reason", withZeros(byLabel(success), FINISH_REASONS));
    labelled(out, "tandem:http_responses_total", null, "HTTP responses by status code (a stream's is sent before its output:"
        + " one that fails midway is a 200 here and an error in tandem:request_success_total).", "status", byLabel(responses));
    counter(out, "tandem:takeovers_total", model, "Large-model takeovers at reflection points.", takeovers.sum());
    counter(out, "tandem:takeovers_skipped_total", model, "Takeovers skipped because the large model's queue was too long.",
        takeoversSkipped.sum());
    counter(out, "tandem:recaps_total", model, "Large-model recaps.", recaps.sum());
    counter(out, "tandem:lookaheads_total", model, "Small-model lookaheads after a trigger.", lookaheads.sum());
    counter(out, "tandem:triggers_total", model, "Reflection triggers seen.", triggers.sum());
    counter(out, "tandem:small_tokens_discarded_total", model, "Small-model tokens generated and not kept.", discardedSmall.sum());
    counter(out, "tandem:requests_cancelled_total", model, "Requests whose client went away before the end.", sum(cancelled));
    counter(out, "tandem:requests_degraded_total", model, "Speculative requests finished by one model alone for want of a worker"
        + " of the other role (tandem.session.on-large-loss = degrade, on-small-loss = large; the answer says tandem.degraded: true).",
        degraded.sum());
    // The same request, token and error counts per tenant (the key's name, never the key).
    perTenant(out, "tandem:tenant_prompt_tokens_total", model, "Prompt tokens processed, by tenant.", null, promptTokens);
    perTenant(out, "tandem:tenant_generation_tokens_total", model, "Output tokens by tenant and model.", "model", generationTokens);
    perTenant(out, "tandem:tenant_request_success_total", model, "Requests ended, by tenant and finish reason.",
        "finished_reason", success);
    perTenant(out, "tandem:tenant_http_responses_total", null, "HTTP responses (errors included) by tenant and status code;"
        + " tenant \"" + NO_TENANT + "\" for those sent before an API key was accepted (401s, unknown endpoints).",
        "status", responses);
    perTenant(out, "tandem:tenant_requests_cancelled_total", model, "Requests whose client went away, by tenant.", null, cancelled);
    workers(out, workers);
    return out.toString();
  }

  private static void workers(StringBuilder out, WorkerView.Scrape scrape) {
    out.append("# HELP tandem:num_workers Workers sessions can be given now, by role: listed, and in a cluster on a node up and"
        + " reachable (as /health/ready counts them).\n# TYPE tandem:num_workers gauge\n");
    for (Role r : Role.values())
      out.append("tandem:num_workers{role=\"").append(r).append("\"} ").append(scrape.offered().getOrDefault(r, 0)).append('\n');
    // As Prometheus' own up: a worker that gave no figures this time has this series alone.
    out.append("# HELP tandem:worker_up 1 when the worker gave its figures to this scrape (during a model step too); 0 when its node"
        + " is unreachable, downed or removed, or it did not answer within tandem.http.worker-figures-timeout (lost before the cluster noticed, or its thread held).\n"
        + "# TYPE tandem:worker_up gauge\n");
    for (WorkerView.Report w : scrape.workers())
      out.append("tandem:worker_up").append(labels(w, false)).append(w.stats() == null ? " 0\n" : " 1\n");
    // An engine that does not serve has no worker, so no worker series tells of it (tester45b).
    if (!scrape.engines().isEmpty()) {
      out.append("# HELP tandem:engine_up 1 when the remote engine (an openai: model spec) at the endpoint answered its last"
          + " health check (every tandem.engine.health-interval) as serving the model, and its worker lost no request since"
          + " (checks it does not answer within tandem.engine.health-timeout count once tandem.engine.health-failure-threshold"
          + " come in a row);"
          + " 0 when not (/health/ready names why). The endpoints this node runs.\n# TYPE tandem:engine_up gauge\n");
      // HOST:PORT/MODEL: one series per model an engine serves (a vLLM with LoRA adapters lists several: tester46f).
      scrape.engines().forEach((role, endpoints) -> endpoints.forEach((endpoint, up) -> out.append("tandem:engine_up{role=\"")
          .append(role).append("\",endpoint=\"").append(endpoint, 0, endpoint.indexOf('/')).append("\",model=\"")
          .append(esc(endpoint.substring(endpoint.indexOf('/') + 1))).append("\"} ").append(up ? 1 : 0).append('\n')));
    }
    // A gauge of its own rather than a label: a label that changes mid-life would split the worker's series.
    out.append("# HELP tandem:worker_draining 1 from when the worker's node starts stopping (SIGTERM) until it leaves the cluster:"
        + " the worker withdrew from the Receptionist and still serves the sessions bound to it, or, the last of its role,"
        + " serves on until none needs it, up to tandem.worker.shutdown-deadline; 0 when it takes new sessions as usual, or"
        + " its node is unreachable or downed (nothing is known of it then).\n"
        + "# TYPE tandem:worker_draining gauge\n");
    for (WorkerView.Report w : scrape.workers())
      out.append("tandem:worker_draining").append(labels(w, false)).append(w.draining() ? " 1\n" : " 0\n");
    String[][] series = {
        {"tandem:worker_queue_length", "gauge", "Requests waiting in a worker's queue, preempted ones included."},
        {"tandem:worker_num_running", "gauge", "Sequences in a worker's running batch."},
        {"tandem:kv_cache_usage_bytes", "gauge", "Bytes held by a worker's KV caches (none for an engine worker: its engine"
            + " holds them, and tells in its own metrics)."},
        {"tandem:kv_cache_usage_perc", "gauge", "Share of a worker's KV cache budget (tandem.<role>.kv-cache-bytes) held by"
            + " sessions in flight, 0 to 1 as vLLM's kv_cache_usage_perc (the caches finished sessions left as prefixes are"
            + " evicted when room is needed, and count as free, as vLLM's cached free blocks do); above 1 while a sequence"
            + " longer than the budget runs alone, which the worker warns of when it starts."},
        {"tandem:kv_cache_capacity_bytes", "gauge", "A worker's KV cache budget (tandem.<role>.kv-cache-bytes)."},
        {"tandem:kv_cache_sessions", "gauge", "Live sessions a worker keeps a cache for (one evicted for room is recomputed"
            + " when its session comes back; the caches finished sessions left as prefixes for new ones are not counted, their"
            + " bytes are in tandem:kv_cache_usage_bytes)."},
        {"tandem:prefix_cache_hits_total", "counter", "Requests that found their session's cache (prefills ahead not counted)."},
        {"tandem:prefix_cache_queries_total", "counter", "Requests that looked for their session's cache (prefills ahead not counted)."},
        {"tandem:kv_cache_evictions_total", "counter", "Session caches evicted."},
        {"tandem:num_preemptions_total", "counter", "Running sequences preempted for KV cache room (vLLM's num_preemptions; recomputed when they resume)."},
        {"tandem:worker_rejected_total", "counter", "Requests a worker refused (queue full; prefills ahead, which a takeover then does itself, not counted)."},
        {"tandem:worker_busy_ratio", "gauge", "Share of a worker's uptime spent in model steps (an engine worker's steps"
            + " overlap: its figure is the mean number of steps in flight, and can pass 1)."},
        {"tandem:automatic_prefix_cache_hits_total", "counter", "New sequences started from the cached prefix of another."},
        {"tandem:automatic_prefix_cache_tokens_total", "counter", "Prompt tokens those sequences took from the cache instead of prefilling."},
        {"tandem:worker_unseen_tokens_total", "counter", "Tokens requests brought that the worker had not processed (its prefill)."},
        {"tandem:worker_step_seconds_mean", "gauge", "Mean time of a step (an engine worker's: one request to its engine, the hop included)."},
    };
    for (String[] s : series) {
      out.append("# HELP ").append(s[0]).append(' ').append(s[2]).append('\n');
      out.append("# TYPE ").append(s[0]).append(' ').append(s[1]).append('\n');
      for (WorkerView.Report r : scrape.workers()) {
        WorkerStats w = r.stats();
        if (w == null || !hasFigure(s[0], w)) continue;
        double v = switch (s[0]) {
          case "tandem:worker_queue_length" -> w.queueLength();
          case "tandem:worker_num_running" -> w.running();
          case "tandem:kv_cache_usage_bytes" -> w.cacheBytes();
          case "tandem:kv_cache_usage_perc" -> (double) w.cacheBytesInUse() / w.cacheCapacityBytes();
          case "tandem:kv_cache_capacity_bytes" -> w.cacheCapacityBytes();
          case "tandem:kv_cache_sessions" -> w.sessionsCached();
          case "tandem:prefix_cache_hits_total" -> w.cacheHits();
          case "tandem:prefix_cache_queries_total" -> w.cacheHits() + w.cacheMisses();
          case "tandem:kv_cache_evictions_total" -> w.cacheEvictions();
          case "tandem:num_preemptions_total" -> w.preemptions();
          case "tandem:worker_rejected_total" -> w.rejected();
          case "tandem:automatic_prefix_cache_hits_total" -> w.prefixCacheHits();
          case "tandem:automatic_prefix_cache_tokens_total" -> w.prefixCacheTokens();
          case "tandem:worker_unseen_tokens_total" -> w.unseenTokens();
          case "tandem:worker_step_seconds_mean" -> w.steps() == 0 ? 0 : w.busyNanos() / 1e9 / w.steps();
          default -> w.upNanos() == 0 ? 0 : (double) w.busyNanos() / w.upNanos();
        };
        out.append(s[0]).append(labels(r, true)).append(' ').append(fmt(v)).append('\n');
      }
    }
  }

  /** Whether {@code w} has a figure for {@code series}: an engine worker's cache is its engine's, and it cannot tell. */
  private static boolean hasFigure(String series, WorkerStats w) {
    return switch (series) {
      case "tandem:kv_cache_usage_bytes" -> w.cacheBytes() != WorkerStats.CACHE_BYTES_UNKNOWN;
      case "tandem:kv_cache_usage_perc" -> w.cacheBytesInUse() >= 0 && w.cacheCapacityBytes() > 0;
      case "tandem:kv_cache_capacity_bytes" -> w.cacheCapacityBytes() > 0;
      default -> true;
    };
  }

  /**
   * A worker's labels: its role, node and name, unique in the cluster (two nodes of one role run
   * workers of the same name), and its model's name where it gave its figures.
   */
  private static String labels(WorkerView.Report w, boolean model) {
    StringBuilder out = new StringBuilder("{role=\"").append(w.role()).append("\",node=\"").append(esc(w.node()))
        .append("\",worker=\"").append(esc(w.worker())).append('"');
    if (model) out.append(",model_name=\"").append(esc(w.stats().model())).append('"');
    return out.append('}').toString();
  }

  private static String fmt(double v) {
    return v == Math.rint(v) && Math.abs(v) < 1e15 ? Long.toString((long) v) : Double.toString(v);
  }

  private static String esc(String s) {
    return s == null ? "" : s.replace("\\", "\\\\").replace("\"", "\\\"").replace("\n", "\\n");
  }

  /** {@code labels} ({@code a="x",b="y"}, or null for none) in braces, or nothing. */
  private static String braced(String labels) {
    return labels == null ? "" : "{" + labels + "}";
  }

  /** {@code model} ({@code model_name="..."}, or null) and a comma, before the series' own labels. */
  private static String first(String model) {
    return model == null ? "" : model + ",";
  }

  private static void gauge(StringBuilder out, String name, String model, String help, long v) {
    out.append("# HELP ").append(name).append(' ').append(help).append('\n');
    out.append("# TYPE ").append(name).append(" gauge\n").append(name).append(braced(model)).append(' ').append(v).append('\n');
  }

  private static void counter(StringBuilder out, String name, String model, String help, long v) {
    out.append("# HELP ").append(name).append(' ').append(help).append('\n');
    out.append("# TYPE ").append(name).append(" counter\n").append(name).append(braced(model)).append(' ').append(v).append('\n');
  }

  private static void labelled(StringBuilder out, String name, String model, String help, String label, Map<String, Long> m) {
    out.append("# HELP ").append(name).append(' ').append(help).append('\n');
    out.append("# TYPE ").append(name).append(" counter\n");
    new TreeMap<>(m).forEach((k, v) -> out.append(name).append('{').append(first(model)).append(label).append("=\"")
        .append(esc(k)).append("\"} ").append(v).append('\n'));
  }

  private static void perTenant(StringBuilder out, String name, String model, String help, String label,
      Map<List<String>, LongAdder> m) {
    out.append("# HELP ").append(name).append(' ').append(help).append('\n');
    out.append("# TYPE ").append(name).append(" counter\n");
    Map<List<String>, Long> sorted = new TreeMap<>((a, b) -> a.toString().compareTo(b.toString()));
    m.forEach((k, v) -> sorted.put(k, v.sum()));
    sorted.forEach((k, v) -> {
      out.append(name).append('{').append(first(model)).append("tenant=\"").append(esc(k.get(0))).append('"');
      if (label != null) out.append(',').append(label).append("=\"").append(esc(k.get(1))).append('"');
      out.append("} ").append(v).append('\n');
    });
  }

  private static long sum(Map<List<String>, LongAdder> m) {
    long total = 0;
    for (LongAdder a : m.values()) total += a.sum();
    return total;
  }

  /**
   * {@code counts} with each of {@code labels} it lacks at 0: a counter's series is there from the
   * start, as Prometheus' instrumentation guidelines ask of labels known in advance (so that {@code
   * rate()} sees its first increase) and as vLLM creates {@code request_success_total} for each
   * finish reason.
   */
  private static Map<String, Long> withZeros(Map<String, Long> counts, String... labels) {
    for (String l : labels) counts.putIfAbsent(l, 0L);
    return counts;
  }

  /** The counts summed over tenants, by the second label. */
  private static Map<String, Long> byLabel(Map<List<String>, LongAdder> m) {
    Map<String, Long> out = new TreeMap<>();
    m.forEach((k, v) -> out.merge(k.get(1), v.sum(), Long::sum));
    return out;
  }
}
