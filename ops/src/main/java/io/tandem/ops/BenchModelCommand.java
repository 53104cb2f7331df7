package io.tandem.ops;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.tandem.inference.hf.DecoderModel;
import io.tandem.inference.hf.HfConfig;
import io.tandem.inference.hf.KvCache;
import io.tandem.inference.hf.Precision;
import io.tandem.inference.hf.Torch;
import io.tandem.protocol.text.Plural;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code tandem bench model}: load time, prefill and batched decode throughput, peak RSS and KV
 * bytes per token of one checkpoint on this machine. Register it as subcommand {@code model} of
 * {@code bench}.
 */
@Command(
    name = "model",
    mixinStandardHelpOptions = true,
    description = "Measures a checkpoint: load time, prefill tokens/s, decode tokens/s per batch size "
        + "(medians over --runs), peak RSS, KV cache bytes per token.")
public final class BenchModelCommand implements Callable<Integer>, Interruptible {

  @Option(names = "--model", required = true, description = "Hugging Face checkpoint folder")
  Path model;

  @Option(names = "--batch", split = ",", defaultValue = "1,4,8", description = "decode batch sizes (default: ${DEFAULT-VALUE})")
  int[] batches;

  @Option(names = "--prompt-tokens", defaultValue = "128", description = "prompt length (default: ${DEFAULT-VALUE})")
  int promptTokens;

  @Option(names = "--new-tokens", defaultValue = "32", description = "decode steps per run (default: ${DEFAULT-VALUE})")
  int newTokens;

  @Option(names = "--runs", defaultValue = "3", description = "runs per measurement; the median is reported (default: ${DEFAULT-VALUE})")
  int runs;

  @Option(names = "--device", defaultValue = "cpu", description = "cpu (gpu0, ... need a CUDA build of PyTorch, and Tandem ships the CPU one; default: ${DEFAULT-VALUE})")
  String device;

  @Option(names = "--precision", defaultValue = "float32",
      description = "float32 or float16 (float16 weights, float32 activations; default: ${DEFAULT-VALUE})")
  String precision;

  @Option(names = "--json", description = "print one JSON object instead of text")
  boolean json;

  @Option(names = "--threads", defaultValue = "0",
      description = "intra-op threads of the forward passes (0: one per core, the default)")
  int threads;

  @Override
  public String whenInterrupted() {
    return "any figures printed above stand";
  }

  @Override
  public Integer call() {
    UsageError.atLeast("--prompt-tokens", promptTokens, 1);
    UsageError.atLeast("--new-tokens", newTokens, 1);
    UsageError.atLeast("--runs", runs, 1);
    // As a worker's tandem.ROLE.max-batch and threads are bounded: past them a batch only exhausts
    // memory, and libtorch crashed on 100000 threads.
    for (int batch : batches) UsageError.within("--batch", batch, 1, io.tandem.worker.WorkerSettings.MAX_BATCH);
    UsageError.within("--threads", threads, 0, RoleSpec.MAX_THREADS);
    Precision p = UsageError.parse("--precision", () -> Precision.parse(precision));
    ModelOptions.requireDevice(device, "--device");
    refuseSettings();
    // A folder of checkpoints (ops/demo): named, as generate names them (tester51c: only "no config.json").
    if (Files.isDirectory(model) && !Files.exists(model.resolve("config.json")) && !ModelOptions.checkpointsIn(model).isEmpty())
      throw new IllegalArgumentException("--model " + model + ": no config.json, not a Hugging Face checkpoint folder"
          + ModelOptions.checkpointsIn(model));
    try {
      if (!Files.isDirectory(model)) {
        System.err.println("tandem bench model: --model " + model + ": " + ModelOptions.notAFolder(model) + "; give a Hugging Face checkpoint folder"
            + " (config.json, model.safetensors), e.g. ops/demo/large or one ./tandem make-checkpoint wrote");
        return 1;
      }
      int cores = Runtime.getRuntime().availableProcessors();
      if (threads > cores) {
        System.err.println("tandem bench model: warning: --threads " + threads + " is more than this machine's " + cores
            + " cores; forward passes oversubscribe them and run slower");
      }
      HfConfig config = HfConfig.load(model);
      int maxLength = config.contextLength();
      if ((long) promptTokens + newTokens > maxLength) {
        // The prompt and the tokens after it share the context: the flag past it is out of its range.
        String context = "this model's context length " + maxLength + ", its " + config.contextLengthKey();
        if (newTokens >= maxLength)
          throw new UsageError("--new-tokens " + newTokens + ": give a whole number from 1 to " + (maxLength - 1) + ", below " + context);
        throw new UsageError("--prompt-tokens " + promptTokens + ": give a whole number from 1 to " + (maxLength - newTokens) + ": "
            + context + ", less --new-tokens " + newTokens);
      }
      if (!"PASSIVE".equalsIgnoreCase(System.getenv("OMP_WAIT_POLICY"))) {
        // Read by libgomp at load, so only the environment can set it.
        System.err.println(
            "tandem bench model: warning: OMP_WAIT_POLICY is not PASSIVE; PyTorch's OpenMP threads spin between ops,"
                + " which on a shared or small CPU slowed decode steps 6x here");
      }
      Torch.engine();
      Torch.readyThread(threads); // every pass below runs on this thread
      int intraOp = threads > 0 ? threads : Integer.getInteger("ai.djl.pytorch.num_threads", 1);
      long t0 = System.nanoTime();
      try (DecoderModel m = DecoderModel.load(model, Torch.device(device), p, layersDone -> {})) {
        double loadS = (System.nanoTime() - t0) / 1e9;
        say("loaded %s in %.2f s (%s, %s, %d intra-op thread(s)); %s", model, loadS, m.device().isGpu() ? "gpu" + m.device().getDeviceId() : "cpu", p.configName(), intraOp,
            m.decodeStepsLine());
        SplittableRandom rng = new SplittableRandom(1);
        int vocab = m.config().vocabSize();

        // Warm-up: the first passes allocate PyTorch's pools and JIT the Java side.
        prefill(m, randomTokens(rng, promptTokens, vocab));
        double[] prefill = new double[runs];
        for (int r = 0; r < runs; r++) {
          prefill[r] = promptTokens / prefill(m, randomTokens(rng, promptTokens, vocab));
        }
        double prefillTps = median(prefill);
        say("prefill %s: %.1f tokens/s (median of %d)", Plural.count(promptTokens, "token"), prefillTps, runs);

        ObjectNode out = new ObjectMapper().createObjectNode();
        out.put("precision", p.configName());
        out.put("threads", intraOp);
        out.put("decode_steps", m.decodesInOneCall() ? "one_call" : "per_op");
        out.put("prefill_tokens_per_s", round(prefillTps));
        ArrayNode decode = out.putArray("decode");
        for (int batch : batches) {
          decode(m, batch, rng, vocab); // warm-up at this batch size
          double[] tps = new double[runs];
          for (int r = 0; r < runs; r++) {
            tps[r] = decode(m, batch, rng, vocab);
          }
          double median = median(tps);
          decode.addObject().put("batch", batch).put("tokens_per_s", round(median));
          say("decode batch %d: %.1f tokens/s aggregate, %.1f per sequence (median of %d, %s after a %d-token prompt)",
              batch, median, median / batch, runs, Plural.count(newTokens, "step"), promptTokens);
        }
        long rss = peakRssBytes();
        out.put("load_s", round(loadS));
        out.put("peak_rss_bytes", rss);
        out.put("kv_bytes_per_token", m.kvBytesPerToken());
        say("peak RSS %.2f GiB; KV cache %d bytes per token", rss / 1073741824.0, m.kvBytesPerToken());
        if (json) {
          System.out.println(out);
        }
      }
      return 0;
    } catch (UsageError e) {
      throw e;
    } catch (Exception e) {
      // A setting given wrong, read as the model loads (tandem.onednn): the launcher's exit status 2, as other commands'.
      if (Tandem.givenWrong(e)) throw new IllegalArgumentException(e.getMessage(), e);
      System.err.println("tandem bench model: " + e.getMessage());
      return 1;
    }
  }

  /**
   * Refuses a {@code tandem.*} setting given as a JVM system property: this command reads none of
   * them (its flags are its settings), so {@code -Dtandem.large.precision=float16} would be measured
   * in float32 without a word (tester56f). The system properties that are not settings ({@code
   * tandem.onednn}, {@code tandem.per-op-decode}) it reads as every command does.
   *
   * @throws UsageError {@code -DKEY: bench model reads no setting; ...}, naming the flag that does the
   *     same where there is one
   * @throws io.tandem.protocol.config.InvalidConfigException for a key no setting or property has, or
   *     a switch neither true nor false
   */
  static void refuseSettings() {
    // A key misspelt (tandem.onedn) or a switch given wrong, as every command names them.
    io.tandem.protocol.config.KnownKeys.check(com.typesafe.config.ConfigFactory.load());
    var settings = System.getProperties().stringPropertyNames().stream()
        .filter(k -> k.startsWith(io.tandem.protocol.config.KnownKeys.ROOT + ".")
            && !io.tandem.protocol.config.KnownKeys.systemProperties().contains(k))
        .sorted().toList();
    if (settings.isEmpty()) return;
    String key = settings.get(0);
    String name = key.substring(key.lastIndexOf('.') + 1);
    String flag = switch (name) {
      case "precision" -> "--precision";
      case "threads" -> "--threads";
      case "device", "devices" -> "--device";
      case "model" -> "--model";
      case "max-batch" -> "--batch";
      default -> null;
    };
    throw new UsageError("-D" + key + ": bench model reads no setting, and measures the checkpoint with its own flags"
        + (flag != null ? " (here " + flag + ")" : "") + "; drop " + (settings.size() > 1 ? "it and -D" + String.join(", -D", settings.subList(1, settings.size())) : "it")
        + " from TANDEM_JAVA_OPTS");
  }

  /** Seconds for one prefill of {@code prompt} into a fresh cache. */
  private static double prefill(DecoderModel m, int[] prompt) {
    try (KvCache cache = m.newCache()) {
      long t = System.nanoTime();
      m.forward(List.of(cache), List.of(prompt));
      return (System.nanoTime() - t) / 1e9;
    }
  }

  /**
   * Aggregate tokens/s of {@code newTokens} greedy steps of {@code batch} sequences in one forward
   * each, taking the argmax where the logits are, as a greedy sequence of a served model does.
   */
  private double decode(DecoderModel m, int batch, SplittableRandom rng, int vocab) {
    List<KvCache> caches = new ArrayList<>();
    try {
      List<int[]> prompts = new ArrayList<>();
      for (int b = 0; b < batch; b++) {
        caches.add(m.newCache());
        prompts.add(randomTokens(rng, promptTokens, vocab));
      }
      boolean[] noLogits = new boolean[batch];
      int[] argmax = m.forward(caches, prompts, noLogits).argmax();
      long t = System.nanoTime();
      for (int s = 0; s < newTokens; s++) {
        List<int[]> next = new ArrayList<>(batch);
        for (int id : argmax) {
          next.add(new int[] {id});
        }
        argmax = m.forward(caches, next, noLogits).argmax();
      }
      return (double) batch * newTokens / ((System.nanoTime() - t) / 1e9);
    } finally {
      caches.forEach(KvCache::close);
    }
  }

  private void say(String format, Object... args) {
    if (!json) {
      System.out.println(String.format(format, args));
    }
  }

  private static int[] randomTokens(SplittableRandom rng, int n, int vocab) {
    return rng.ints(n, 0, Math.min(vocab, 150000)).toArray();
  }

  private static double median(double[] values) {
    double[] s = values.clone();
    Arrays.sort(s);
    return s.length % 2 == 1 ? s[s.length / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
  }

  private static double round(double v) {
    return Math.round(v * 100) / 100.0;
  }

  /** VmHWM: the most resident memory this process has held, native PyTorch allocations included. */
  static long peakRssBytes() throws IOException {
    for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
      if (line.startsWith("VmHWM:")) {
        return Long.parseLong(line.replaceAll("\\D", "")) * 1024;
      }
    }
    return -1;
  }
}
