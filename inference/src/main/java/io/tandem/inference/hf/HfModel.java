package io.tandem.inference.hf;

import ai.djl.Device;
import io.tandem.inference.LanguageModel;
import io.tandem.inference.Sequence;
import io.tandem.inference.TextTokenizer;
import io.tandem.inference.TokenBuffer;
import io.tandem.inference.sampling.Sampler;
import io.tandem.inference.text.ChatTemplate;
import io.tandem.inference.text.HfTokenizer;
import io.tandem.protocol.ChatMessage;
import io.tandem.protocol.ChatTemplateArgs;
import io.tandem.protocol.SamplingParams;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/**
 * A Hugging Face checkpoint as a {@link LanguageModel}: the decoder, its tokenizer and chat
 * template, and per-sequence KV caches with their samplers.
 */
public final class HfModel implements LanguageModel {

  private final String name;
  private final DecoderModel decoder;
  private final HfTokenizer tokenizer;
  private final ChatTemplate template;
  private final Set<Integer> eos;
  private final int threads;

  private HfModel(String name, DecoderModel decoder, HfTokenizer tokenizer, ChatTemplate template, Set<Integer> eos,
      int threads) {
    this.name = name;
    this.decoder = decoder;
    this.tokenizer = tokenizer;
    this.template = template;
    this.eos = eos;
    this.threads = threads;
  }

  /**
   * Opens a checkpoint folder on {@code device}: {@code cpu} (in float32), or {@code gpu} /
   * {@code gpuN} (in float16).
   */
  public static HfModel load(Path dir, String device) {
    return load(dir, device, defaultPrecision(device));
  }

  /** float16 on a GPU, float32 on the CPU. */
  public static Precision defaultPrecision(String device) {
    return parseDevice(device).isGpu() ? Precision.FLOAT16 : Precision.FLOAT32;
  }

  /**
   * Opens a checkpoint folder on {@code device} ({@code cpu}, {@code gpu}, {@code gpuN}) in a
   * {@link Precision} (a role's {@code precision} setting, parsed by {@link Precision#parse}).
   *
   * @throws IllegalArgumentException for an unknown device
   * @throws CheckpointException if the folder's tensors do not match its config.json
   */
  public static HfModel load(Path dir, String device, Precision precision) {
    return load(dir, device, precision, 0);
  }

  /**
   * As {@link #load(Path, String, Precision)}, running each forward pass with {@code threads}
   * intra-op threads (a role's {@code threads} setting; 0: one per core), see {@link Torch#readyThread}.
   *
   * @throws IllegalArgumentException for an unknown device or a negative thread count
   */
  public static HfModel load(Path dir, String device, Precision precision, int threads) {
    if (threads < 0) throw new IllegalArgumentException("threads must be >= 0 (0: one per core), got " + threads);
    Device d = parseDevice(device);
    HfTokenizer tokenizer = HfTokenizer.load(dir);
    ChatTemplate template = null;
    if (Files.exists(dir.resolve("chat_template.jinja")) || Files.exists(dir.resolve("tokenizer_config.json"))) {
      try {
        template = ChatTemplate.load(dir);
      } catch (io.tandem.inference.text.JsonFault.NotJson e) {
        throw e; // a damaged file is no missing template
      } catch (IllegalArgumentException e) {
        template = null; // raw prompts still work; chat requests get a clear error below
      }
    }
    long t0 = System.nanoTime();
    HfConfig config = HfConfig.load(dir);
    HfTokenizer.requireIdsBelow(dir.resolve("tokenizer.json"), tokenizer.largestId(), config.vocabSize());
    int layers = config.numHiddenLayers();
    LoadProgress progress =
        new LoadProgress(dir.getFileName() + " on " + device + " in " + precision.configName() + ", "
            + (threads > 0 ? threads : Integer.getInteger("ai.djl.pytorch.num_threads", 1)) + " intra-op thread(s)", layers);
    DecoderModel decoder = DecoderModel.load(dir, d, precision, progress::layerDone);
    progress.done(System.nanoTime() - t0, decoder.decodeStepsLine() + (template != null ? ""
        : "; no chat template (tokenizer_config.json chat_template or chat_template.jinja): chat requests that"
            + " need this model will be refused, raw prompts served"));
    // The tokenizer's eos_token ends an answer beside the ids generation_config.json (or config.json) names, as in vLLM,
    // which stops on the tokenizer's and adds the generation config's (tester59b: a fine-tune's generation_config.json
    // naming its base model's <|endoftext|> alone ran every answer past its chat template's end of turn).
    Set<Integer> eos = new LinkedHashSet<>(decoder.config().eosTokenIds());
    tokenizer.eosTokenId().ifPresent(eos::add);
    // What would stop no answer, or refuse every chat request, is said at load, not found out answer by answer (tester59b);
    // an eos_token tokenizer.json does not have ends nothing (tester59f: said as no eos_token at all, or not said).
    org.slf4j.Logger log = org.slf4j.LoggerFactory.getLogger(HfModel.class);
    if (tokenizer.eosToken().isPresent() && tokenizer.eosTokenId().isEmpty())
      log.warn("{}: tokenizer_config.json's eos_token \"{}\" is not among tokenizer.json's added tokens, so it ends no"
          + " answer{}", dir, io.tandem.protocol.text.Clipped.of(tokenizer.eosToken().get()), eos.isEmpty() ? ""
              : " (generation_config.json's or config.json's eos_token_id " + eos + " still do)");
    if (eos.isEmpty())
      log.warn("{}: no end-of-sequence token: neither generation_config.json nor config.json has an eos_token_id, nor"
          + " tokenizer_config.json an eos_token that tokenizer.json has; every answer runs to its max_tokens or a stop"
          + " string. Give the model's eos_token_id in generation_config.json", dir);
    if (template != null) {
      try {
        template.render(java.util.List.of(new io.tandem.protocol.ChatMessage("user", "hi")), true);
      } catch (IllegalArgumentException e) {
        // A template that refuses this conversation on purpose (raise_exception) may take others.
        if (!e.getMessage().startsWith("the chat template rejected"))
          log.warn("{}: its chat template cannot render a one-message conversation, so chat requests that need this model"
              + " will be refused: {}", dir, e.getMessage().replaceAll("\\s*\n\\s*", " "));
      }
    }
    return new HfModel(dir.getFileName().toString(), decoder, tokenizer, template, Set.copyOf(eos), threads);
  }

  static Device parseDevice(String device) {
    if (device == null || device.equals("cpu")) return Device.cpu();
    if (device.equals("gpu")) return Device.gpu(0);
    if (device.matches("gpu\\d+")) return Device.gpu(Integer.parseInt(device.substring(3)));
    throw new IllegalArgumentException("unknown device '" + device + "' (cpu, gpu, gpu0, gpu1, ...)");
  }

  public DecoderModel decoder() {
    return decoder;
  }

  @Override
  public String name() {
    return name;
  }

  @Override
  public TextTokenizer tokenizer() {
    return tokenizer;
  }

  @Override
  public Set<Integer> eosTokenIds() {
    return eos;
  }

  @Override
  public int contextLength() {
    return decoder.config().contextLength();
  }

  @Override
  public int vocabSize() {
    return decoder.config().vocabSize();
  }

  @Override
  public boolean hasChatTemplate() {
    return template != null;
  }

  @Override
  public int[] renderChat(List<ChatMessage> messages, ChatTemplateArgs args) {
    if (template == null)
      throw new IllegalArgumentException(name + " has no chat template (tokenizer_config.json chat_template or "
          + "chat_template.jinja); send a raw prompt instead (POST /v1/completions; tandem generate --no-chat-template)");
    return tokenizer.encode(template.render(messages, args));
  }

  @Override
  public Sequence newSequence(SamplingParams sampling) {
    return new HfSequence(decoder.newCache(), sampling);
  }

  @Override
  public int[] forward(List<Sequence> batch, int maxPrefillTokens) {
    if (maxPrefillTokens < 1) throw new IllegalArgumentException("maxPrefillTokens must be >= 1");
    Torch.readyThread(threads);
    List<KvCache> caches = new ArrayList<>(batch.size());
    List<int[]> fresh = new ArrayList<>(batch.size());
    boolean[] complete = new boolean[batch.size()];
    for (int i = 0; i < batch.size(); i++) {
      HfSequence seq = (HfSequence) batch.get(i);
      int length = seq.length();
      if (seq.cache.length() >= length && !seq.held) {
        // Everything is cached (a rollback to a cached position): re-feed the last token for its logits.
        seq.cache.truncate(length - 1);
      }
      int end = (int) Math.min(seq.held ? length - 1 : length, (long) seq.cache.length() + maxPrefillTokens);
      if (end <= seq.cache.length())
        throw new IllegalArgumentException("sequence " + i + " of the batch has nothing to feed: its last token is held back");
      complete[i] = end == length;
      caches.add(seq.cache);
      fresh.add(seq.tokens.range(seq.cache.length(), end));
    }
    // Prefills first and single-token decodes (after a cache) last: the decoder runs those in one call.
    boolean[] decode = new boolean[batch.size()];
    for (int i = 0; i < decode.length; i++) decode[i] = fresh.get(i).length == 1 && caches.get(i).length() > 0;
    Integer[] order = new Integer[batch.size()];
    for (int i = 0; i < order.length; i++) order[i] = i;
    Arrays.sort(order, (a, b) -> Boolean.compare(decode[a], decode[b]));
    List<KvCache> orderedCaches = new ArrayList<>(order.length);
    List<int[]> orderedFresh = new ArrayList<>(order.length);
    // Greedy sequences take the argmax computed beside the logits; top-k samplers their candidates,
    // chosen there too; only other samplers copy a row of vocab_size logits out.
    int vocab = decoder.config().vocabSize();
    int[] wantLogits = new int[order.length];
    for (int j = 0; j < order.length; j++) {
      int i = order[j];
      orderedCaches.add(caches.get(i));
      orderedFresh.add(fresh.get(i));
      SamplingParams sampling = ((HfSequence) batch.get(i)).sampling;
      int k = sampling.topK();
      wantLogits[j] = !complete[i] || sampling.greedy() ? DecoderModel.ARGMAX_ONLY
          : k > 0 && k < vocab ? k : DecoderModel.WHOLE_ROW;
    }
    DecoderModel.Next out = decoder.forward(orderedCaches, orderedFresh, wantLogits);
    int[] next = new int[batch.size()];
    for (int j = 0; j < order.length; j++) {
      int i = order[j];
      HfSequence seq = (HfSequence) batch.get(i);
      if (!complete[i]) {
        next[i] = NOT_YET;
        continue;
      }
      DecoderModel.TopLogits top = out.top()[j];
      next[i] = wantLogits[j] == DecoderModel.ARGMAX_ONLY ? out.argmax()[j]
          : top != null ? seq.sampler().sampleTopK(top.ids(), top.logits())
          : seq.sampler().sample(out.logits()[j]);
      seq.append(new int[] {next[i]});
    }
    return next;
  }

  /** Whether a sequence of the pass needs a row the KV pool lacks, or more tokens than its rows hold (KvPool grows by copying). */
  @Override
  public boolean passGrowsCache(List<Sequence> batch, int maxPrefillTokens) {
    int longest = 0;
    int newRows = 0;
    for (Sequence s : batch) {
      HfSequence seq = (HfSequence) s;
      longest = Math.max(longest, (int) Math.min(seq.length(), (long) seq.cache.length() + maxPrefillTokens));
      if (seq.cache.capacity() == 0) newRows++;
    }
    return decoder.kvPoolGrowsFor(newRows, longest);
  }

  @Override
  public long cacheBytesPerToken() {
    return decoder.kvBytesPerToken();
  }

  @Override
  public boolean newSequenceCopiesCaches() {
    return decoder.newKvCacheCopiesPool();
  }

  /** The KV pool's bytes for these caches alone: every row as long as the longest, rows in powers of two (KvPool). */
  @Override
  public long cacheBytesFor(int[] cachedTokens) {
    return decoder.kvBytesFor(cachedTokens);
  }

  /** Shrinks the KV pool to the smallest layout of the live caches (KvPool#compact). */
  @Override
  public void trimCache() {
    decoder.trimKvCache();
  }

  /** Closes what {@code frees} closes, the KV pool shrinking once at its end (KvPool#releasingMany). */
  @Override
  public void releasingCaches(Runnable frees) {
    decoder.releasingKvCaches(frees);
  }

  @Override
  public void close() {
    decoder.close();
    tokenizer.close();
  }

  /** Tokens, a KV cache and a sampler. */
  private static final class HfSequence implements Sequence {
    final KvCache cache;
    final SamplingParams sampling;
    final Sampler unseeded;
    final TokenBuffer tokens = new TokenBuffer();
    /** Whether forward passes hold the last token back ({@link #holdLastToken}). */
    boolean held;

    HfSequence(KvCache cache, SamplingParams sampling) {
      this.cache = cache;
      this.sampling = sampling;
      this.unseeded = sampling.seed() == null ? new Sampler(sampling) : null;
    }

    /**
     * With a seed, each position draws from its own stream (seed, position): the same draws
     * whether the sequence ran alone or batched, kept its cache or rebuilt it. The logits drawn
     * from may still differ in their last bits between batch compositions (matrix products
     * blocked differently, as in any batched server), which can change a draw between two tokens
     * almost equally likely.
     */
    Sampler sampler() {
      if (unseeded != null) return unseeded;
      long s = sampling.seed() * 0x9E3779B97F4A7C15L + tokens.length() * 0xBF58476D1CE4E5B9L;
      return new Sampler(sampling.withSeed(s));
    }

    @Override
    public int length() {
      return tokens.length();
    }

    @Override
    public boolean holdLastToken(boolean hold) {
      held = hold;
      return true;
    }

    @Override
    public int tokenAt(int position) {
      return tokens.at(position);
    }

    @Override
    public void append(int[] ids) {
      tokens.append(ids);
    }

    @Override
    public void truncate(int newLength) {
      tokens.truncate(newLength);
      if (cache.length() > newLength) cache.truncate(newLength);
    }

    @Override
    public int processedLength() {
      return cache.length();
    }

    @Override
    public Sequence forkPrefix(int n, SamplingParams forkSampling) {
      if (n < 0 || n > tokens.length()) throw new IllegalArgumentException("cannot fork " + n + " of " + tokens.length() + " tokens");
      HfSequence fork = new HfSequence(cache.forkPrefix(Math.min(n, cache.length())), forkSampling);
      fork.tokens.append(tokens.range(0, n));
      return fork;
    }

    @Override
    public void dropCache() {
      cache.drop();
    }

    @Override
    public long cacheBytes() {
      return cache.bytes();
    }

    @Override
    public void close() {
      cache.close();
    }
  }
}
