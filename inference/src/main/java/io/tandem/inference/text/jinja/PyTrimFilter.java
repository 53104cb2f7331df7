package io.tandem.inference.text.jinja;

import com.hubspot.jinjava.interpret.JinjavaInterpreter;
import com.hubspot.jinjava.lib.filter.Filter;
import java.util.Map;

/**
 * {@code trim} as Jinja2's: Python's {@code str(value).strip(chars)}. Jinjava's used Java's {@code String.trim},
 * which keeps a no-break space (U+00A0), U+2003 and U+3000 and strips control characters Python keeps, so Llama 3.1's
 * and Mistral's templates ({@code message['content']|trim}) gave other ids for pasted text (tester60i), and ignored
 * {@code chars}. An undefined value trims to nothing (Hermes' tool template wrote "null" for a parameter without a
 * description: tester60g).
 */
public final class PyTrimFilter implements Filter {

  @Override
  public String getName() {
    return "trim";
  }

  @Override
  public Object filter(Object var, JinjavaInterpreter interpreter, String... args) {
    return strip(var, interpreter, args.length > 0 ? args[0] : null);
  }

  @Override
  public Object filter(Object var, JinjavaInterpreter interpreter, Object[] args, Map<String, Object> kwargs) {
    Object chars = kwargs.containsKey("chars") ? kwargs.get("chars") : args.length > 0 ? args[0] : null;
    return strip(var, interpreter, chars == null ? null : PyRepr.str(chars, interpreter::getAsString));
  }

  private static String strip(Object var, JinjavaInterpreter interpreter, String chars) {
    String s = PyRepr.str(var, interpreter::getAsString);
    return PythonResolver.StrMethods.rstrip(PythonResolver.StrMethods.lstrip(s, chars), chars);
  }
}
