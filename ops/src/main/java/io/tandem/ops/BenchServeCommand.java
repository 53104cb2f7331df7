package io.tandem.ops;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigValueFactory;
import io.tandem.orchestrator.session.Mode;
import io.tandem.orchestrator.session.SessionEvent;
import io.tandem.orchestrator.session.SessionRequest;
import io.tandem.orchestrator.session.SessionRunner;
import io.tandem.protocol.ChatMessage;
import io.tandem.protocol.Prompt;
import io.tandem.protocol.Role;
import io.tandem.protocol.SamplingParams;
import io.tandem.protocol.config.SpeculativeConfig;
import io.tandem.protocol.text.Plural;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code tandem bench serve}: the two workers serving many concurrent speculative sessions, with
 * continuous batching on and off: aggregate tokens/s, takeovers/s and mean batch size per worker.
 *
 * <p>Every point serves the same workload, {@code --problems} sessions (the first questions, each
 * with its own seed), with at most {@code --sessions} of them in flight: a session that ends is
 * replaced by the next question, as a closed-loop load generator such as vLLM's {@code
 * benchmark_serving --max-concurrency} does. So the ratio of two points is the gain of serving
 * that many sessions at once on the same questions, not of one question against many.
 *
 * <p>The lanes' first sessions arrive spread over one session's lifetime (the warm-up's lone
 * session, divided by the lanes), as independent clients do; started together ({@code
 * --stagger=false}, vLLM's {@code --request-rate inf}), sessions stay in lockstep, drafting on the
 * small worker all at once and then all waiting on the large one, so that each worker idles while
 * the other runs.
 */
@Command(
    name = "serve",
    mixinStandardHelpOptions = true,
    description = {"Aggregate throughput of concurrent speculative sessions on two checkpoints, batching on and off.",
        "Without --small/--large: the demo pair in ops/demo/."})
public final class BenchServeCommand implements Callable<Integer>, Interruptible {

  @Mixin ModelOptions models = new ModelOptions();

  @Option(names = "--sessions", split = ",", defaultValue = "1,8,32", description = "Concurrent sessions (a list sweeps). Default: ${DEFAULT-VALUE}.")
  List<Integer> sessions;

  @Option(names = "--problems", description = "Sessions each run serves, at most --sessions at a time; "
      + "the same questions at every point. Default: four times the largest --sessions.")
  Integer problems;

  @Option(names = "--stagger", negatable = true, defaultValue = "true", fallbackValue = "true",
      description = "Spread the lanes' first arrivals over one session's lifetime (default); --no-stagger starts them together.")
  boolean stagger;

  @Option(names = "--new-tokens", defaultValue = "400", description = "Tokens each session generates (max_tokens). "
      + "Default: ${DEFAULT-VALUE}, enough for the demo pair's answers (about 275 tokens, the takeover after about 163).")
  int newTokens;

  @Option(names = "--batching", split = ",", arity = "1", defaultValue = "true,false", description = "Batching modes to run. Default: ${DEFAULT-VALUE}.")
  List<Boolean> batching;

  @Option(names = "--json", description = "Print one JSON object instead of a table.")
  boolean json;

  @Option(names = "--runs", defaultValue = "3", description = "Runs per point; the run with the median tokens/s is printed. Default: ${DEFAULT-VALUE}.")
  int repeats;

  @Option(names = "--prompts", description = "A JSONL file whose \"problem\" fields are the sessions' questions "
      + "(e.g. ops/demo/heldout.jsonl). Default: the demo pair's held-out questions when it serves the demo pair (--small and --large "
      + "not given, or ops/demo/small and ops/demo/large), else generated arithmetic questions.")
  java.nio.file.Path prompts;

  private List<String> questions = List.of();

  private String question(int i) {
    return questions.isEmpty() ? "Question " + i + ": what is " + (17 + i) + " times 23?" : questions.get(i % questions.size());
  }

  /**
   * The {@code "problem"} of each line of a JSONL prompt file, in order, up to the first {@code
   * workload} of them (the file is read no further).
   *
   * @throws IllegalArgumentException naming the file and line: a line that is not JSON or has no
   *     non-empty string {@code "problem"}, a question repeated among the first {@code workload}
   *     (it would be a prefix-cache hit, not a new session), no questions, or fewer than {@code workload}
   */
  private List<String> readQuestions(java.nio.file.Path prompts, int workload) throws java.io.IOException {
    List<String> qs = new ArrayList<>();
    // As a request body is read: a member given twice, or more after the object, is refused.
    ObjectMapper reader = new ObjectMapper().enable(com.fasterxml.jackson.databind.DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
        .enable(com.fasterxml.jackson.core.JsonParser.Feature.STRICT_DUPLICATE_DETECTION);
    Map<String, Integer> seen = new java.util.HashMap<>();
    // Only the first `workload` questions are served: the rest of the file (a pipe may not end) is not read.
    io.tandem.protocol.text.Utf8Files.eachLine("--prompts", prompts, (lineNo, line) -> {
      if (line.isBlank()) return true;
      com.fasterxml.jackson.databind.JsonNode problem;
      com.fasterxml.jackson.databind.JsonNode object;
      try {
        object = reader.readTree(line);
        problem = object.get("problem");
      } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
        throw new IllegalArgumentException("--prompts " + prompts + " line " + lineNo + ": not JSON"
            + io.tandem.protocol.text.JsonSyntax.ofLine(e, line) + "; give one JSON object with a \"problem\" field per line");
      }
      if (!object.isObject())
        throw new IllegalArgumentException("--prompts " + prompts + " line " + lineNo + ": " + io.tandem.ops.eval.Problem.kindOf(object)
            + ", not an object; JSON Lines hold one object {\"problem\": ...} per line");
      if (problem == null)
        throw new IllegalArgumentException("--prompts " + prompts + " line " + lineNo + ": no \"problem\" field");
      if (!problem.isTextual() || problem.asText().isBlank())
        throw new IllegalArgumentException("--prompts " + prompts + " line " + lineNo + ": \"problem\" is " + io.tandem.protocol.JsonInteger.show(problem)
            + "; give the question as a non-empty string");
      // A question served twice would find its prompt in the prefix cache: the run would measure cache hits.
      Integer first = seen.putIfAbsent(problem.asText().strip(), lineNo);
      if (first != null)
        throw new IllegalArgumentException("--prompts " + prompts + " line " + lineNo + ": the question of line " + first
            + " again; a repeated question is a prefix-cache hit, not a new session: give distinct questions");
      qs.add(problem.asText());
      return qs.size() < workload;
    });
    if (qs.isEmpty()) throw new IllegalArgumentException("--prompts " + prompts + ": no questions in it; give a JSONL file with a \"problem\" field per line");
    if (workload > qs.size())
      throw new UsageError("--problems " + workload + " is more than the " + Plural.count(qs.size(), "question") + " in "
          + prompts + "; give at most " + qs.size() + (problems == null ? " (the default is four times the largest --sessions)" : "")
          + ", or a longer prompt file");
    return qs;
  }

  @Override
  public String whenInterrupted() {
    return "any rows printed above stand";
  }

  @Override
  public Integer call() throws Exception {
    for (int n : sessions)
      if (n < 1) throw new UsageError("--sessions " + n + ": each concurrency must be at least 1");
    if (problems != null && problems < 1)
      throw new UsageError("--problems " + problems + ": give at least 1 problem per run");
    if (repeats < 1) throw new UsageError("--runs " + repeats + ": give at least 1 run per point");
    if (newTokens < 1) throw new UsageError("--new-tokens " + newTokens + ": each session needs at least 1 token");
    models.sampling(); // --temperature, --top-k, --top-p checked before any model loads
    int most = sessions.stream().mapToInt(Integer::intValue).max().orElse(1);
    int workload = problems != null ? problems : 4 * most;
    if (workload < most)
      throw new UsageError("--problems " + workload + " is fewer than --sessions " + most
          + "; give at least as many problems as sessions");
    if (prompts == null && io.tandem.ops.demo.DemoModels.isDemo(models.small, "small") && io.tandem.ops.demo.DemoModels.isDemo(models.large, "large")) {
      prompts = io.tandem.ops.demo.DemoModels.dir().resolve("heldout.jsonl"); // the demo pair's own questions
    }
    if (prompts != null) {
      ModelOptions.requireInputFile("--prompts", prompts, "give a JSONL file with a \"problem\" "
          + "field per line (e.g. ops/demo/heldout.jsonl)");
      questions = readQuestions(prompts, workload);
    }
    Config base = ModelOptions.baseConfig();
    SpeculativeConfig spec = models.speculative(base);
    Config withModels = models.nodeConfig(base, List.of(Role.small, Role.large));
    ObjectMapper m = new ObjectMapper();
    ArrayNode runs = m.createArrayNode();
    if (!json) System.out.printf("%9s %9s %12s %13s %12s %12s %11s %11s %10s%n", "batching", "sessions", "tokens/s", "takeovers/s",
        "small batch", "large batch", "small busy", "large busy", "wall s");
    for (boolean on : batching) {
      Config config = withModels
          .withValue("tandem.small.batching", ConfigValueFactory.fromAnyRef(on))
          .withValue("tandem.large.batching", ConfigValueFactory.fromAnyRef(on));
      Map<Role, RoleSpec> roles = ModelOptions.roleSpecs(config, List.of(Role.small, Role.large));
      try (TandemNode node = TandemNode.start("tandem-bench-serve", config, roles, true)) {
        // Warm-up (JIT, native kernels, the KV pool's size): a few rounds at the largest concurrency
        // measured. At 8 sessions, the JIT still had a tenth of the CPU in a measured run at 32.
        for (int w = 0; w < 3; w++) runOnce(node, spec, most, most, 0, 0);
        long t0 = System.nanoTime();
        runOnce(node, spec, 1, 1, 0, 0);
        long alone = System.nanoTime() - t0;
        for (int n : sessions) {
          double[] tps = new double[repeats];
          Measured[] all = new Measured[repeats];
          for (int r = 0; r < repeats; r++) {
            all[r] = measure(node, spec, n, workload, r + 1, stagger ? alone / n : 0);
            tps[r] = all[r].tokensPerS();
          }
          double median = BenchOrchestrationCommand.median(tps);
          Measured m0 = all[0];
          for (Measured x : all) if (Math.abs(x.tokensPerS() - median) < Math.abs(m0.tokensPerS() - median)) m0 = x;
          double wall = m0.wall(), smallBatch = m0.smallBatch(), largeBatch = m0.largeBatch();
          double smallBusy = m0.smallBusyNanos() / 1e9 / wall, largeBusy = m0.largeBusyNanos() / 1e9 / wall;
          long tokens = m0.tokens(), takeovers = m0.takeovers();
          if (json) {
            ObjectNode o = runs.addObject();
            o.put("sessions", n).put("batching", on).put("tokens_per_s", tokens / wall)
                .put("takeovers_per_s", takeovers / wall).put("mean_batch_small", smallBatch)
                .put("mean_batch_large", largeBatch).put("busy_small", smallBusy).put("busy_large", largeBusy)
                .put("prefill_tokens_large", m0.largePrefill()).put("tokens", tokens).put("wall_s", wall);
          } else {
            System.out.printf("%9s %9d %12.1f %13.2f %12.2f %12.2f %10.0f%% %10.0f%% %10.1f%n", on, n, tokens / wall,
                takeovers / wall, smallBatch, largeBatch, 100 * smallBusy, 100 * largeBusy, wall);
          }
        }
      }
    }
    if (json) {
      ObjectNode root = m.createObjectNode();
      root.put("problems", workload).put("stagger", stagger).put("small", withModels.getString("tandem.small.model")).put("large", withModels.getString("tandem.large.model"))
          .put("new_tokens", newTokens);
      root.set("runs", runs);
      System.out.println(m.writeValueAsString(root));
    }
    return 0;
  }

  /** One run; busy: the time a role's workers spent in forward passes (summed over its workers). */
  private record Measured(double wall, long tokens, long takeovers, double smallBatch, double largeBatch,
      long smallBusyNanos, long largeBusyNanos, long largePrefill) {
    double tokensPerS() {
      return tokens / wall;
    }
  }

  private Measured measure(TandemNode node, SpeculativeConfig spec, int n, int workload, long seedBase, long spacingNanos)
      throws Exception {
    // Every run prefills as the first one did: nothing cached from the runs before it.
    WorkerStatsCollector.resetPrefixCaches(node, List.of(Role.small, Role.large));
    long[] s0 = WorkerStatsCollector.batching(WorkerStatsCollector.collect(node, Role.small));
    long[] l0 = WorkerStatsCollector.batching(WorkerStatsCollector.collect(node, Role.large));
    long t0 = System.nanoTime();
    List<SessionEvent> ends = runOnce(node, spec, n, workload, seedBase, spacingNanos);
    double wall = (System.nanoTime() - t0) / 1e9;
    long[] s1 = WorkerStatsCollector.batching(WorkerStatsCollector.collect(node, Role.small));
    long[] l1 = WorkerStatsCollector.batching(WorkerStatsCollector.collect(node, Role.large));
    long tokens = 0, takeovers = 0;
    for (SessionEvent e : ends) {
      if (!(e instanceof SessionEvent.Finished f)) throw new IllegalStateException(SessionEvent.failure(e));
      tokens += f.usage().completionTokens();
      takeovers += f.trace().counters().takeovers();
    }
    return new Measured(wall, tokens, takeovers, (s1[1] - s0[1]) / (double) Math.max(1, s1[0] - s0[0]),
        (l1[1] - l0[1]) / (double) Math.max(1, l1[0] - l0[0]), s1[2] - s0[2], l1[2] - l0[2], l1[3] - l0[3]);
  }

  /**
   * Serves questions {@code 0..workload-1}, at most {@code concurrency} at a time: each of {@code
   * concurrency} lanes takes the next question when its session ends; lane {@code i} starts after
   * {@code i * spacingNanos}.
   */
  private List<SessionEvent> runOnce(TandemNode node, SpeculativeConfig spec, int concurrency, int workload, long seedBase,
      long spacingNanos) throws Exception {
    SessionEvent[] ends = new SessionEvent[workload];
    java.util.concurrent.atomic.AtomicInteger next = new java.util.concurrent.atomic.AtomicInteger();
    List<CompletableFuture<Void>> lanes = new ArrayList<>();
    for (int lane = 0; lane < Math.min(concurrency, workload); lane++) {
      java.util.concurrent.Executor arrival = CompletableFuture.delayedExecutor(lane * spacingNanos, TimeUnit.NANOSECONDS);
      lanes.add(CompletableFuture.runAsync(() -> {}, arrival).thenCompose(x -> lane(node, spec, next, workload, seedBase, ends)));
    }
    CompletableFuture.allOf(lanes.toArray(new CompletableFuture[0])).get(2, TimeUnit.HOURS);
    return List.of(ends);
  }

  private CompletableFuture<Void> lane(TandemNode node, SpeculativeConfig spec, java.util.concurrent.atomic.AtomicInteger next,
      int workload, long seedBase, SessionEvent[] ends) {
    int i = next.getAndIncrement();
    if (i >= workload) return CompletableFuture.completedFuture(null);
    SessionRequest req = new SessionRequest("bench-" + System.nanoTime() + "-" + i, "bench",
        Prompt.chat(List.of(new ChatMessage("user", question(i)))),
        new SamplingParams(models.temperature, models.topK, models.topP,
            (models.seed == null ? 0 : models.seed * 1_000_000) + seedBase * 1000 + i),
        newTokens, spec, Mode.speculative, false);
    return SessionRunner.run(node.system(), node.sessions(), req, null).toCompletableFuture()
        .thenCompose(end -> {
          ends[i] = end;
          return lane(node, spec, next, workload, seedBase, ends);
        });
  }
}
