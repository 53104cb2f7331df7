package io.tandem.ops;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.typesafe.config.Config;
import io.tandem.inference.scripted.ScriptGenerator;
import io.tandem.orchestrator.session.Mode;
import io.tandem.orchestrator.session.SessionEvent;
import io.tandem.orchestrator.session.SessionRequest;
import io.tandem.orchestrator.session.SessionRunner;
import io.tandem.protocol.ChatMessage;
import io.tandem.protocol.Prompt;
import io.tandem.protocol.Role;
import io.tandem.protocol.SamplingParams;
import io.tandem.protocol.config.SpeculativeConfig;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code tandem bench orchestration}: the cost of the actors themselves. Zero-latency scripted
 * models, N concurrent sessions: tokens/s through the orchestrator, and wall time per trigger
 * decision (look-ahead, takeover and the messages around them).
 */
@Command(
    name = "orchestration",
    mixinStandardHelpOptions = true,
    description = "Actor overhead: N concurrent sessions on zero-latency scripted models.")
public final class BenchOrchestrationCommand implements Callable<Integer>, Interruptible {

  @Option(names = "--sessions", split = ",", defaultValue = "1,16,64", description = "Concurrent sessions (a list sweeps). Default: ${DEFAULT-VALUE}.")
  List<Integer> sessions;

  @Option(names = "--tokens", defaultValue = "2000", description = "Approximate script length per model. Default: ${DEFAULT-VALUE}.")
  int tokens;

  @Option(names = "--runs", defaultValue = "3", description = "Runs per point; the median is printed. Default: ${DEFAULT-VALUE}.")
  int runs;

  @Option(names = "--json", description = "Print one JSON object instead of a table.")
  boolean json;

  @Override
  public String whenInterrupted() {
    return "any rows printed above stand";
  }

  @Override
  public Integer call() throws Exception {
    for (int n : sessions) UsageError.atLeast("--sessions", n, 1);
    UsageError.atLeast("--tokens", tokens, 1);
    UsageError.atLeast("--runs", runs, 1);
    try (ScratchFolder scratch = ScratchFolder.create("tandem-bench")) {
      return bench(scratch.path());
    }
  }

  /** Writes the scripts into {@code dir} and runs the sweep on them, printing its table or JSON. */
  private int bench(Path dir) throws Exception {
    ObjectMapper m = new ObjectMapper();
    Path small = dir.resolve("small.json"), large = dir.resolve("large.json");
    Files.writeString(small, m.writeValueAsString(Map.of("tokens", ScriptGenerator.generate(1, tokens, 6, 30, false))));
    Files.writeString(large, m.writeValueAsString(Map.of("tokens", ScriptGenerator.generate(2, tokens, 6, 30, true))));

    Config config = ModelOptions.baseConfig();
    Map<Role, RoleSpec> roles = new EnumMap<>(Role.class);
    roles.put(Role.small, RoleSpec.fromConfig(config, Role.small).withModel("scripted:" + small));
    roles.put(Role.large, RoleSpec.fromConfig(config, Role.large).withModel("scripted:" + large));
    SpeculativeConfig spec = SpeculativeConfig.fromHocon(config);
    // Each session holds a place in each worker's batch or queue; past them sessions fail as the
    // queue is full (a line each), which measures nothing.
    // The role with the least room bounds them (named alone, so that the number it gives is taken).
    Role tightest = roles.keySet().stream().min(java.util.Comparator.comparingInt(
        r -> roles.get(r).settings().maxBatch() + roles.get(r).settings().queueLimit())).orElseThrow();
    io.tandem.worker.WorkerSettings w = roles.get(tightest).settings();
    int room = w.maxBatch() + w.queueLimit();
    for (int n : sessions)
      if (n > room)
        throw new UsageError("--sessions " + n + ": more than a " + tightest + " worker takes at once (tandem." + tightest
            + ".max-batch " + w.maxBatch() + " + tandem." + tightest + ".queue-limit " + w.queueLimit() + " = " + room
            + "); give at most " + room + ", or raise those settings with -D in TANDEM_JAVA_OPTS");

    ArrayNode results = m.createArrayNode();
    try (TandemNode node = TandemNode.start("tandem-bench", config, roles, true)) {
      warmUp(node, spec, sessions.stream().mapToInt(Integer::intValue).max().orElseThrow());
      // After the warm-up's line (stderr), so that on a terminal the table is whole.
      if (!json) System.out.printf("%9s %14s %14s %16s %12s%n", "sessions", "tokens/s", "sessions/s", "ms/decision", "triggers");
      for (int n : sessions) {
        double[] tps = new double[runs], sps = new double[runs], msPerDecision = new double[runs];
        long triggers = 0;
        for (int r = 0; r < runs; r++) {
          long t0 = System.nanoTime();
          List<SessionEvent> ends = runOnce(node, spec, n);
          double s = (System.nanoTime() - t0) / 1e9;
          long tok = 0;
          triggers = 0;
          for (SessionEvent e : ends) {
            if (!(e instanceof SessionEvent.Finished f)) throw new IllegalStateException(SessionEvent.failure(e));
            tok += f.usage().completionTokens();
            triggers += f.trace().counters().triggers();
          }
          tps[r] = tok / s;
          sps[r] = n / s;
          // Sessions run concurrently: the wall time of one session divided by its decisions.
          msPerDecision[r] = s * 1000 / Math.max(1, triggers / (double) n);
        }
        double t = median(tps), ss = median(sps), d = median(msPerDecision);
        if (json) {
          ObjectNode o = results.addObject();
          o.put("sessions", n).put("tokens_per_s", t).put("sessions_per_s", ss)
              .put("ms_per_trigger_decision", d).put("triggers_per_session", triggers / (double) n);
        } else {
          System.out.printf("%9d %14.0f %14.1f %16.3f %12.1f%n", n, t, ss, d, triggers / (double) n);
        }
      }
    }
    if (json) {
      ObjectNode root = m.createObjectNode();
      root.set("runs", results);
      System.out.println(m.writeValueAsString(root));
    }
    return 0;
  }

  /**
   * Runs the sweep's largest point until its throughput settles (two runs in a row within 10%, at
   * least {@value #MIN_WARMUP_RUNS} runs, at most {@value #MAX_WARMUP_RUNS}), so that the JIT has
   * compiled the actor paths before the first point is measured: one short run of 4 sessions left
   * the first point at half the speed it had later in the same sweep (tester44d: 12,266 against
   * ~35,000 tokens/s). Says on stderr how many runs it took.
   */
  private static void warmUp(TandemNode node, SpeculativeConfig spec, int sessions) throws Exception {
    double previous = 0;
    int run = 0;
    boolean settled = false;
    while (run < MAX_WARMUP_RUNS && !settled) {
      long t0 = System.nanoTime();
      long tokens = 0;
      for (SessionEvent e : runOnce(node, spec, sessions))
        if (e instanceof SessionEvent.Finished f) tokens += f.usage().completionTokens();
      double tps = tokens / ((System.nanoTime() - t0) / 1e9);
      run++;
      settled = run >= MIN_WARMUP_RUNS && Math.abs(tps - previous) <= 0.1 * Math.max(tps, previous);
      previous = tps;
    }
    System.err.printf("warm-up: %d runs of %s%s%n", run, io.tandem.protocol.text.Plural.count(sessions, "session"), settled ? "" : " (throughput still moving by more"
        + " than 10% from run to run: a busy machine; figures below vary as much)");
  }

  private static final int MIN_WARMUP_RUNS = 3, MAX_WARMUP_RUNS = 10;

  private static List<SessionEvent> runOnce(TandemNode node, SpeculativeConfig spec, int n) throws Exception {
    List<CompletableFuture<SessionEvent>> all = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      SessionRequest req = new SessionRequest("bench-" + System.nanoTime() + "-" + i, "bench",
          Prompt.chat(List.of(new ChatMessage("user", "Compute the sum."))), SamplingParams.GREEDY,
          1_000_000, spec, Mode.speculative, false);
      all.add(SessionRunner.run(node.system(), node.sessions(), req, null).toCompletableFuture());
    }
    List<SessionEvent> out = new ArrayList<>();
    for (CompletableFuture<SessionEvent> f : all) out.add(f.get(10, TimeUnit.MINUTES));
    return out;
  }

  static double median(double[] xs) {
    double[] s = xs.clone();
    Arrays.sort(s);
    return s.length % 2 == 1 ? s[s.length / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
  }
}
