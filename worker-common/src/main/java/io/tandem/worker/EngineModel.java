package io.tandem.worker;

import io.tandem.inference.Sequence;
import io.tandem.inference.TextTokenizer;
import io.tandem.inference.hf.HfConfig;
import io.tandem.inference.text.ChatTemplate;
import io.tandem.inference.text.HfTokenizer;
import io.tandem.protocol.Prompt;
import io.tandem.protocol.SamplingParams;
import java.nio.file.Files;
import java.util.LinkedHashSet;
import java.util.Set;

/**
 * The local half of a model served by a remote engine: its tokenizer and chat template, loaded
 * from the engine model's Hugging Face folder ({@link EngineSpec#tokenizer()}), so that prompts
 * are rendered, triggers matched and tokens counted here exactly as an in-process worker of the
 * same model does, and only token ids travel to the engine.
 *
 * <p>Vocabulary sizes: models of one family share a tokenizer but may pad their embedding matrix
 * differently (DeepSeek-R1-Distill-Qwen-1.5B has {@code vocab_size} 151936, -32B 152064, over the
 * same 151665 tokens of one {@code tokenizer.json}). Token ids pass between them unchanged (the
 * tokenizer key is the same); an id at or beyond {@link #vocabSize()} can only come from an
 * engine serving another model than the tokenizer folder's, and the worker refuses it.
 */
final class EngineModel implements ServedModel {
  private final String name;
  private final HfTokenizer tokenizer;
  private final ChatTemplate template;
  private final Set<Integer> eos;
  private final int contextLength;
  private final int vocabularySize;

  private EngineModel(String name, HfTokenizer tokenizer, ChatTemplate template, Set<Integer> eos, int contextLength,
      int vocabularySize) {
    this.name = name;
    this.tokenizer = tokenizer;
    this.template = template;
    this.eos = eos;
    this.contextLength = contextLength;
    this.vocabularySize = vocabularySize;
  }

  /**
   * Loads the tokenizer folder of {@code spec}.
   *
   * @throws IllegalArgumentException when the tokenizer cannot be loaded, or neither {@code
   *     max-model-len} nor a {@code config.json} gives the context length
   */
  static EngineModel open(EngineSpec spec) {
    HfTokenizer tokenizer = HfTokenizer.load(spec.tokenizer());
    ChatTemplate template = null;
    try {
      template = ChatTemplate.load(spec.tokenizer());
    } catch (IllegalArgumentException e) {
      // raw prompts still work; a chat prompt gets a clear error from render
    }
    Set<Integer> eos = new LinkedHashSet<>();
    int context = spec.maxModelLen();
    int vocab = 0;
    if (Files.isRegularFile(spec.tokenizer().resolve("config.json"))) {
      HfConfig config = HfConfig.load(spec.tokenizer());
      eos.addAll(config.eosTokenIds());
      if (context == 0) context = config.maxPositionEmbeddings();
      vocab = config.vocabSize();
    }
    if (eos.isEmpty()) tokenizer.eosTokenId().ifPresent(eos::add);
    if (context == 0)
      throw new IllegalArgumentException("engine " + spec.endpoint() + ": no max-model-len=N in its spec and no config.json in "
          + spec.tokenizer() + " to read max_position_embeddings from");
    return new EngineModel(spec.model() + "@" + spec.endpoint(), tokenizer, template, Set.copyOf(eos), context, vocab);
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
    return contextLength;
  }

  /** The model's {@code vocab_size} ({@code config.json}; 0 without one); every id the engine returns is below it. */
  @Override
  public int vocabSize() {
    return vocabularySize;
  }

  @Override
  public int[] render(Prompt prompt) {
    return ServedModel.render(prompt, tokenizer, p -> {
      if (template == null)
        throw new IllegalArgumentException(name + ": the tokenizer folder has no chat template (tokenizer_config.json "
            + "chat_template or chat_template.jinja); send a raw prompt instead");
      return tokenizer.encode(template.render(p.messages(), true));
    });
  }

  @Override
  public Sequence newSequence(SamplingParams sampling) {
    return new TokenSequence();
  }

  void close() {
    tokenizer.close();
  }
}
