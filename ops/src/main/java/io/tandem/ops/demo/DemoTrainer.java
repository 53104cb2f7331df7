package io.tandem.ops.demo;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.jni.JniUtils;
import ai.djl.training.GradientCollector;
import ai.djl.training.optimizer.Adam;
import ai.djl.training.optimizer.Optimizer;
import io.tandem.inference.hf.TrainableDecoder;
import io.tandem.inference.hf.Torch;
import io.tandem.inference.text.ChatTemplate;
import io.tandem.inference.text.HfTokenizer;
import io.tandem.protocol.ChatMessage;
import io.tandem.protocol.text.Plural;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * Trains one demo model on {@link SumTask} traces of one kind with DJL's autograd: next-token cross-entropy
 * on the assistant's tokens only, Adam, linear warm-up then cosine decay over a time or step
 * budget. Training problems come from the seed's stream; {@link #HELD_OUT_SEED}'s stream is
 * never trained on.
 */
public final class DemoTrainer {

  /** The seed of the held-out problems {@code tandem eval} runs; training seeds must differ. */
  public static final long HELD_OUT_SEED = 20250417L;

  /** Share of training prompts that are the bare question, without the paper's instruction. */
  private static final double BARE_PROMPT = 0.2;
  private static final int WARMUP_STEPS = 30;
  /** Non-finite steps in a row after which training stops instead of going on from bad weights. */
  private static final int MAX_CONSECUTIVE_SKIPS = 10;

  /** Which of {@link SumTask}'s traces a model learns to write. */
  public enum Traces {
    /** {@link SumTask#overReflecting}: the small model's. */
    OVER_REFLECTING,
    /** {@link SumTask#decisive}: the large model's, second edition. */
    DECISIVE,
    /** {@link SumTask#verifying}: the first demo pair's large model's. */
    VERIFYING
  }

  /**
   * What a training run is asked to do.
   *
   * @param slip the slip rate of decisive and verifying traces (unused for over-reflecting ones)
   * @param corrected the share of slips corrected at once in verifying traces (unused otherwise)
   * @param misread the misread rate of decisive and verifying traces (unused for over-reflecting ones)
   * @param verdictWeight how many times the verdict token's loss counts in decisive traces
   */
  public record Plan(String name, TrainableDecoder.Shape2 shape, int batch, float learningRate,
      double minutes, int maxSteps, Path init, Traces traces, double slip, double corrected, double misread,
      int saveEvery, float verdictWeight) {
    /** A plan on the task's default traces of that kind, saved only at the end. */
    public Plan(String name, TrainableDecoder.Shape2 shape, int batch, float learningRate, double minutes,
        int maxSteps, Path init, Traces traces) {
      this(name, shape, batch, learningRate, minutes, maxSteps, init, traces,
          traces == Traces.VERIFYING ? SumTask.VERIFYING_SLIP : SumTask.SLIP, SumTask.VERIFYING_CORRECTED,
          traces == Traces.VERIFYING ? 0.0 : SumTask.MISREAD, 0, 1f);
    }

    public Plan {
      java.util.Objects.requireNonNull(traces, "traces");
      if (!(verdictWeight >= 1f) || !Float.isFinite(verdictWeight))
        throw new IllegalArgumentException(name + ": the verdict weight must be at least 1, got " + verdictWeight);
      if (saveEvery < 0) throw new IllegalArgumentException(name + ": save-every must not be negative, got " + saveEvery);
      if (!(learningRate > 0) || !Float.isFinite(learningRate))
        throw new IllegalArgumentException(name + ": the learning rate must be a positive number, got " + learningRate);
      if (batch < 1) throw new IllegalArgumentException(name + ": the batch must be at least 1, got " + batch);
      if (maxSteps < 0) throw new IllegalArgumentException(name + ": steps must not be negative, got " + maxSteps);
      if (maxSteps == 0 && !(minutes > 0))
        throw new IllegalArgumentException(name + ": give a positive number of steps or minutes, got " + minutes + " minutes");
      if (traces != Traces.OVER_REFLECTING) {
        try {
          SumTask.requireRates(slip, corrected, misread, traces == Traces.VERIFYING);
        } catch (IllegalArgumentException e) {
          throw new IllegalArgumentException(name + ": " + e.getMessage(), e);
        }
      }
    }
  }

  /** What it did. */
  public record Report(String name, long parameters, int steps, double minutes, double firstLoss,
      double finalLoss, long examples) {}

  private final Path tokenizerDir;
  private final PrintStream log;
  private volatile boolean stopRequested;

  /**
   * Asks the training under way to stop after its current step and save what it has, as if its
   * steps or minutes had run out; a later {@link #train} returns at once. Any thread may call it (a
   * shutdown hook on Ctrl-C: the JVM must not exit while a step runs in libtorch, whose teardown
   * then crashes it).
   */
  public void stop() {
    stopRequested = true;
  }

  /** Whether {@link #stop} was called. */
  public boolean stopped() {
    return stopRequested;
  }

  /** @param tokenizerDir a folder holding the demo {@code tokenizer.json} and its config */
  public DemoTrainer(Path tokenizerDir, PrintStream log) {
    this.tokenizerDir = tokenizerDir;
    this.log = log;
  }

  /**
   * Indexes in {@code answer} of the tokens that decide the verdict ({@link
   * SumTask#decisionOffsets}: in a decisive trace each digit comparison's second word and the
   * verdict), whose loss the plan's verdict weight multiplies: a handful of tokens per trace decide
   * whether the forward sum is called wrong, so their loss is easily drowned by the other 250.
   */
  static java.util.Set<Integer> decisionIndexes(HfTokenizer tokenizer, String trace, int[] answer) {
    java.util.Set<Integer> out = new java.util.HashSet<>();
    for (int offset : SumTask.decisionOffsets(trace)) out.add(tokenIndex(tokenizer, trace, answer, offset));
    return out;
  }

  private static int tokenIndex(HfTokenizer tokenizer, String trace, int[] answer, int offset) {
    int[] head = tokenizer.encode(trace.substring(0, offset));
    for (int i = 0; i < head.length; i++) {
      if (head[i] != answer[i]) throw new IllegalStateException("the tokens of a trace's head differ from the whole's: " + trace);
    }
    return head.length;
  }

  /** Writes the model as a Hugging Face folder, with the tokenizer files beside it. */
  private void save(TrainableDecoder model, int eos, Path out) throws IOException {
    model.save(out, List.of(eos), null);
    java.nio.file.Files.copy(tokenizerDir.resolve("tokenizer.json"), out.resolve("tokenizer.json"),
        java.nio.file.StandardCopyOption.REPLACE_EXISTING);
    java.nio.file.Files.copy(tokenizerDir.resolve("tokenizer_config.json"), out.resolve("tokenizer_config.json"),
        java.nio.file.StandardCopyOption.REPLACE_EXISTING);
  }

  /** Trains {@code plan} from {@code seed} and saves the model (with the tokenizer files) to {@code out}. */
  public Report train(Plan plan, long seed, Path out) throws IOException {
    if (seed == HELD_OUT_SEED) throw new IllegalArgumentException("seed " + seed + " is the held-out set's seed");
    Torch.engine();
    HfTokenizer tokenizer = HfTokenizer.load(tokenizerDir);
    ChatTemplate template = ChatTemplate.load(tokenizerDir);
    int eos = tokenizer.eosTokenId().orElseThrow();
    // The template is rendered once around a marker: rendering it per example costs more than a step.
    String marker = "@@CONTENT@@";
    String[] around = template.render(List.of(new ChatMessage("user", marker)), true).split(marker, -1);
    int pad = tokenizer.addedTokenId(DemoTokenizer.PAD).orElseThrow();
    SplittableRandom data = new SplittableRandom(seed);
    long[] problemIndex = {0};
    float[] lr = {0f};
    Optimizer adam = Adam.builder().optLearningRateTracker((String id, int n) -> lr[0]).optClipGrad(1.0f).build();

    try (TrainableDecoder model = new TrainableDecoder(plan.shape(), seed);
        NDManager root = NDManager.newBaseManager(ai.djl.Device.cpu(), "PyTorch")) {
      if (plan.init() != null) model.loadWeights(plan.init());
      long trained = model.trainableParameters().values().stream().mapToLong(a -> a.getShape().size()).sum();
      log.printf("train-demo: %s, %,d parameters%s, batch %d, lr %.1e, %s%s%n", plan.name(), model.parameterCount(),
          trained == model.parameterCount() ? ""
              : String.format(" (%,d trained: the blocks block expansion added, LLaMA Pro's recipe)", trained),
          plan.batch(), plan.learningRate(), plan.init() == null ? ""
              : model.grownFrom() > 0 ? "growing " + plan.init() + " from " + model.grownFrom() + " to " + plan.shape().layers() + " layers, "
              : "continuing " + plan.init() + ", ",
          plan.maxSteps() > 0 ? Plural.count(plan.maxSteps(), "step")
              : java.math.BigDecimal.valueOf(plan.minutes()).stripTrailingZeros().toPlainString()
                  + (plan.minutes() == 1 ? " minute" : " minutes"));
      long t0 = System.nanoTime();
      double budgetNanos = plan.minutes() * 60e9;
      int step = 0;
      double first = Double.NaN;
      double smoothed = Double.NaN;
      long examples = 0;
      long dataNanos = 0;
      int skipped = 0;
      int consecutiveSkips = 0;
      while (true) {
        double elapsed = System.nanoTime() - t0;
        double progress = plan.maxSteps() > 0 ? (double) step / plan.maxSteps() : elapsed / budgetNanos;
        // At least one step: a budget of minutes shorter than a step (1e-300) saved the untrained
        // weights with a loss of NaN.
        if ((progress >= 1.0 && step > 0) || stopRequested) break;
        progress = Math.min(progress, 1.0);
        double warm = Math.min(1.0, (step + 1.0) / WARMUP_STEPS);
        lr[0] = (float) (plan.learningRate() * warm * (0.1 + 0.9 * 0.5 * (1 + Math.cos(Math.PI * progress))));

        long tStep = System.nanoTime();
        List<int[]> seqs = new ArrayList<>();
        List<Integer> promptLens = new ArrayList<>();
        List<java.util.Set<Integer>> weighted = new ArrayList<>();
        for (int i = 0; i < plan.batch(); i++) {
          SumTask.Problem p = SumTask.problem(seed, problemIndex[0]++);
          String user = data.nextDouble() < BARE_PROMPT ? p.question() : SumTask.prompt(p);
          int[] prompt = tokenizer.encode(around[0] + user + around[1]);
          String trace = switch (plan.traces()) {
            case DECISIVE -> SumTask.decisive(p, data, plan.slip(), plan.misread());
            case VERIFYING -> SumTask.verifying(p, data, plan.slip(), plan.corrected(), plan.misread());
            case OVER_REFLECTING -> SumTask.overReflecting(p);
          };
          int[] answer = tokenizer.encode(trace);
          java.util.Set<Integer> decisions = new java.util.HashSet<>();
          if (plan.verdictWeight() != 1f && plan.traces() != Traces.OVER_REFLECTING) {
            for (int d : decisionIndexes(tokenizer, trace, answer)) decisions.add(prompt.length + d);
          }
          weighted.add(decisions);
          int[] seq = new int[prompt.length + answer.length + 1];
          System.arraycopy(prompt, 0, seq, 0, prompt.length);
          System.arraycopy(answer, 0, seq, prompt.length, answer.length);
          seq[seq.length - 1] = eos;
          seqs.add(seq);
          promptLens.add(prompt.length);
        }
        examples += seqs.size();
        int t = seqs.stream().mapToInt(s -> s.length - 1).max().orElseThrow();
        long[] ids = new long[seqs.size() * t];
        long[] targets = new long[seqs.size() * t];
        float[] mask = new float[seqs.size() * t];
        java.util.Arrays.fill(ids, pad);
        for (int b = 0; b < seqs.size(); b++) {
          int[] s = seqs.get(b);
          for (int i = 0; i < s.length - 1; i++) {
            ids[b * t + i] = s[i];
            targets[b * t + i] = s[i + 1];
            mask[b * t + i] = i + 1 >= promptLens.get(b) ? (weighted.get(b).contains(i + 1) ? plan.verdictWeight() : 1f) : 0f;
          }
        }
        long tData = System.nanoTime();
        dataNanos += tData - tStep;
        float loss;
        try (NDManager scope = root.newSubManager()) {
          Shape bt = new Shape(seqs.size(), t);
          NDArray idArr = scope.create(ids, bt);
          NDArray targetArr = scope.create(targets, bt);
          NDArray maskArr = scope.create(mask, bt);
          try (GradientCollector gc = Engine.getEngine("PyTorch").newGradientCollector()) {
            NDArray l = model.loss(scope, idArr, targetArr, maskArr);
            gc.backward(l);
            loss = l.getFloat();
          }
          Map<String, NDArray> grads = new java.util.LinkedHashMap<>();
          float largest = 0;
          for (Map.Entry<String, NDArray> e : model.trainableParameters().entrySet()) {
            NDArray grad = e.getValue().getGradient();
            grad.attach(scope);
            grads.put(e.getKey(), grad);
            float max = grad.abs().max().getFloat(); // NaN if any element is NaN
            largest = Float.isNaN(max) ? Float.NaN : Math.max(largest, max);
          }
          boolean finite = Float.isFinite(loss) && Float.isFinite(largest);
          for (Map.Entry<String, NDArray> e : grads.entrySet()) {
            // A non-finite step is dropped before Adam sees it: one bad batch would otherwise
            // poison the moment estimates and, through them, every later update.
            if (finite) adam.update(e.getKey(), model.parameters().get(e.getKey()), e.getValue());
            // zero_() rather than g - g: an infinite gradient minus itself is NaN, which the next
            // backward pass would accumulate into and never leave.
            JniUtils.zeroGrad((PtNDArray) model.parameters().get(e.getKey()));
          }
          if (!finite) {
            skipped++;
            consecutiveSkips++;
            log.printf("train-demo: %s step %d: loss %s, largest gradient %s; update skipped%n",
                plan.name(), step + 1, loss, largest);
            if (consecutiveSkips >= MAX_CONSECUTIVE_SKIPS) {
              throw new IllegalStateException(plan.name() + ": " + consecutiveSkips
                  + " steps in a row had a non-finite loss or gradient (step " + (step + 1)
                  + "); lower the learning rate. Nothing was saved.");
            }
            continue;
          }
          consecutiveSkips = 0;
        }
        if (Double.isNaN(first)) first = loss;
        smoothed = Double.isNaN(smoothed) ? loss : 0.95 * smoothed + 0.05 * loss;
        step++;
        if (plan.saveEvery() > 0 && step % plan.saveEvery() == 0 && (plan.maxSteps() == 0 || step < plan.maxSteps())) {
          Path snapshot = out.resolveSibling(out.getFileName() + "-step" + step);
          save(model, eos, snapshot);
          log.printf("train-demo: %s step %d saved to %s%n", plan.name(), step, snapshot);
        }
        if (step % 50 == 0 || step == 5) {
          log.printf("train-demo: %s step %d, loss %.4f (smoothed %.4f), lr %.2e, %.1f min (%.0f%% preparing data)%n",
              plan.name(), step, loss, smoothed, lr[0], (System.nanoTime() - t0) / 60e9,
              100.0 * dataNanos / (System.nanoTime() - t0));
        }
      }
      double minutes = (System.nanoTime() - t0) / 60e9;
      if (step == 0 && stopRequested) {
        // Stopped before a step: the untrained weights must not take the place of a model in --out.
        log.printf("train-demo: %s stopped as asked before its first step; nothing saved%n", plan.name());
        return new Report(plan.name(), model.parameterCount(), 0, minutes, Double.NaN, Double.NaN, examples);
      }
      save(model, eos, out);
      log.printf("train-demo: %s %s: %s in %.1f min (%s skipped), loss %.4f -> %.4f (smoothed), saved to %s%n",
          plan.name(), stopRequested ? "stopped as asked" : "done", Plural.count(step, "step"), minutes,
          Plural.count(skipped, "non-finite step"), first, smoothed, out);
      return new Report(plan.name(), model.parameterCount(), step, minutes, first, smoothed, examples);
    } finally {
      tokenizer.close();
    }
  }
}
