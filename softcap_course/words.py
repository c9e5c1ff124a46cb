"""The words the book's code prints and draws, in the language of the edition being built.

The Spanish edition of the book translates its text with Sphinx's gettext catalogs, but the outputs of its code cells
are made by the code itself: a table's header, a figure's title, a printed label. That code writes its words through
``tr``, so that the same cell prints English in the English edition and Spanish in the Spanish one:

    ax.set_title(tr("logits (any real number)"))
    print(tr("largest logit:"), x.max())
    tr("{:.1%} of the mass", share)          # a template: translated first, then formatted

The language is ``SOFTCAP_BOOK_LANGUAGE`` in the environment (``softcap_course.book.editions`` sets it to ``es`` for the
Spanish build; unset means English). In English ``tr`` returns its text as written. In another language a text without
a translation is an error, not a quiet English word on a Spanish page: the Spanish build fails until the table below has
it (``tests/test_translations.py`` also checks every ``tr("...")`` of the pages against it without building anything).

Terms used throughout (as in the pages' translation catalogs): cap -> tope (no cap -> sin tope, capped -> con tope),
softcap -> softcap, logit -> logit, cross-entropy -> entropía cruzada, loss -> pérdida, gradient -> gradiente,
forward / backward pass -> pasada hacia delante / hacia atrás, kernel -> kernel, rank -> rango, chunk -> chunk (a
Triton block is a bloque), uniform guess -> predicción uniforme, row -> fila, dtype -> dtype.
"""

import os

LANGUAGE = os.environ.get("SOFTCAP_BOOK_LANGUAGE", "en")


def tr(text, *args, **fields):
    """``text`` in the book's language; with arguments, the translated text is a ``str.format`` template."""
    translated = text if LANGUAGE == "en" else translation(text, LANGUAGE)
    return translated.format(*args, **fields) if args or fields else translated


def translation(text, language):
    try:
        table = TRANSLATIONS[language]
    except KeyError:
        raise ValueError(f"the book's code has no words in language {language!r} "
                         f"(SOFTCAP_BOOK_LANGUAGE; there are: en, {', '.join(TRANSLATIONS)})") from None
    try:
        return table[text]
    except KeyError:
        raise KeyError(f"no {language!r} translation of {text!r}: add it to softcap_course/words.py") from None


# --------------------------------------------------------------------------------------- the Spanish edition's words
# English exactly as the code writes it -> Spanish. Grouped by the page that uses it first.

SPANISH = {
    # book/01-softmax.md
    'tense': 'tiempo verbal',
    'logit $x_i$': 'logit $x_i$',
    'probability': 'probabilidad',
    'past simple': 'pasado simple',
    'present simple': 'presente simple',
    'future simple': 'futuro simple',
    'present perfect': 'presente perfecto',
    'past continuous': 'pasado continuo',
    'logits (any real number)': 'logits (cualquier número real)',
    'softmax: probabilities (sum to 1)': 'softmax: probabilidades (suman 1)',
    'logits      ': 'logits      ',
    'sum         ': 'suma        ',
    'exp / sum   ': 'exp / suma  ',
    'largest finite': 'mayor finito',
    'exp overflows above x =': 'exp se desborda por encima de x =',
    'smallest subnormal': 'menor subnormal',
    'exp rounds to 0 below x =': 'exp se redondea a 0 por debajo de x =',
    'x above': 'x por encima',
    'x below': 'x por debajo',
    'shift c': 'desplazamiento c',
    'naive :': 'ingenua:',
    'stable:': 'estable:',
    'dtype kept:': 'dtype conservado:',
    'every output positive': 'todas las salidas son positivas',
    'smallest p_i = {:.4f}': 'menor p_i = {:.4f}',
    'outputs sum to 1': 'las salidas suman 1',
    'order preserved': 'conserva el orden',
    'differentiable': 'diferenciable',
    'max |Jacobian - finite differences| = {:.1e}': 'max |jacobiano - diferencias finitas| = {:.1e}',
    'invariant to a shift': 'invariante ante un desplazamiento',
    'not invariant to a scale': 'no invariante ante un escalado',
    'property': 'propiedad',
    'statement': 'enunciado',
    'check on the tense logits (float64)': 'comprobación con los logits de los tiempos verbales (float64)',
    'holds': 'se cumple',
    'small': 'pequeños',
    'mixed': 'mixtos',
    'large positive': 'positivos grandes',
    'large negative': 'negativos grandes',
    'identical': 'idénticos',
    'masked -inf': 'enmascarados -inf',
    'input': 'entrada',
    'logits (float32)': 'logits (float32)',
    'naive': 'ingenua',
    'stable': 'estable',
    'global max:\n': 'máximo global:\n',
    'per-row max (keepdims=True):\n': 'máximo por fila (keepdims=True):\n',
    'batch - batch.max(axis=-1), no keepdims:\n': 'batch - batch.max(axis=-1), sin keepdims:\n',
    'stable softmax, float32      :': 'softmax estable, float32     :',
    '1 - p_0 in float32           :': '1 - p_0 en float32           :',
    'p_1 as computed              :': 'p_1 tal como se calcula      :',
    'exact 1 - p_0 = p_1          : {:.6e}': '1 - p_0 = p_1 exacto         : {:.6e}',
    'quantity': 'cantidad',
    'as written': 'tal como está escrita',
    'exact': 'exacto',
    '0 (no shift)': '0 (sin desplazamiento)',
    'mean': 'media',
    'minimum': 'mínimo',
    'maximum': 'máximo',
    'value of c': 'valor de c',
    'attention scores, d_k = {}: std {:.2f} raw,': 'puntuaciones de atención, d_k = {}: σ {:.2f} sin escalar,',
    '{:.3f} after / sqrt(d_k)': '{:.3f} tras / sqrt(d_k)',
    'a gradient of {:g} in float16: {:g}': 'un gradiente de {:g} en float16: {:g}',
    'scaled by 2^16, stored in float16, unscaled in float32: {:.4g}':
        'escalado por 2^16, guardado en float16, desescalado en float32: {:.4g}',
    'tense logits, float64': 'los logits de los tiempos verbales, float64',
    'overflowing example, float32': 'los logits del ejemplo que se desborda, float32',
    'log-sum-exp of the {}:': 'log-sum-exp de {}:',
    '  online, {} at a time: {:.15g};': '  online, {} por bloque: {:.15g};',
    'in one go: {:.15g}': 'de una sola vez: {:.15g}',
    'the smaller probability is 0 from d = {:.2f} on': 'la probabilidad menor es 0 a partir de d = {:.2f}',
    "float16's exp rounds to 0 below x = {:.4f}": 'la exp de float16 se redondea a 0 por debajo de x = {:.4f}',
    '-{:.2f} is stored in float16 as {:.6f}, just above it:':
        '-{:.2f} se almacena en float16 como {:.6f}, justo por encima:',
    '  and exp gives {:.3g}; is it the smallest subnormal?': '  y exp da {:.3g}; ¿es el menor subnormal?',
    'log(smallest subnormal) = {:.2f}: from there down to the threshold,':
        'log(menor subnormal) = {:.2f}: desde ahí hasta el umbral,',
    'exp(x) rounds up to the smallest subnormal instead of down to 0':
        'exp(x) se redondea hacia arriba al menor subnormal en vez de hacia abajo a 0',
    'exp(88) = {:.4e} in float32, so {} terms fit': 'exp(88) = {:.4e} en float32, así que caben {} términos',
    'and {} overflow:': 'y {} se desbordan:',
    'x[0, 3] - shifted[0, 3] = {}, which is the maximum of': 'x[0, 3] - shifted[0, 3] = {}, que es el máximo de',
    'row {}, not of row 0': 'la fila {}, no de la fila 0',
    'naive ': 'ingenua',
    'by hand: shifted exponents -20, -10, 0;': 'a mano: exponentes desplazados -20, -10, 0;',
    'sum = 1 + e^-10 + e^-20 = {:.10f},': 'suma = 1 + e^-10 + e^-20 = {:.10f},',
    'so the answer is (e^-20, e^-10, 1) / sum;': 'así que la respuesta es (e^-20, e^-10, 1) / suma;',
    'both formulas agree, since nothing overflows in float64':
        'las dos fórmulas coinciden, porque nada se desborda en float64',
    '  naive softmax = {}': '  softmax ingenua = {}',
    'float32 overflows above {:.2f},': 'float32 se desborda por encima de {:.2f},',
    'so inf / inf = nan;': 'así que inf / inf = nan;',
    'float64 holds exp(100) and gives 1/3 each': 'float64 puede representar exp(100) y da 1/3 a cada una',
    'difference: {:.1e}': 'diferencia: {:.1e}',
    'The sum of exp(x_i) contains the term exp(max x), and every other':
        'La suma de exp(x_i) contiene el término exp(max x), y todos los demás',
    'term is positive, so the sum is at least exp(max x); log is':
        'términos son positivos, así que la suma es al menos exp(max x); log es',
    'increasing, so LSE(x) >= max x. The gap is log(1 + s), with s the':
        'creciente, así que LSE(x) >= max x. La diferencia es log(1 + s), con s la',
    'sum of exp(x_i - max x) over the others: close to 0 when every other':
        'suma de exp(x_i - max x) sobre los demás: cercana a 0 cuando todos los demás',
    'logit is far below the maximum, log K when all K logits are equal.':
        'logits están muy por debajo del máximo, log K cuando los K logits son iguales.',
    '  = 1/5 each: every term is e^0 = 1 and the sum is 5': '  = 1/5 cada una: cada término es e^0 = 1 y la suma es 5',
    '  the upper bound max + log K with max = 0': '  la cota superior max + log K con max = 0',
    # book/02-logsumexp.md
    'large logits, float32:   ': 'logits grandes, float32: ',
    'very negative, float64:  ': 'muy negativos, float64:  ',
    'large logits, float32:': 'logits grandes, float32:',
    'very negative, float64:': 'muy negativos, float64:',
    'tense logits': 'logits de los tiempos verbales',
    'seed (92)': 'ejemplo semilla (92)',
    'all equal (K = 8)': 'todos iguales (K = 8)',
    'one dominant': 'uno dominante',
    'random N(0, 4), K = 1000': 'aleatorios N(0, 4), K = 1000',
    'bounds hold': 'se cumplen las cotas',
    'temperature T': 'temperatura T',
    'value': 'valor',
    'LSE as a smooth maximum of the tense logits': 'LSE como máximo suave de los logits de los tiempos verbales',
    'shifted form:   ': 'desplazada:     ',
    'plain shifted LSE': 'LSE desplazada simple',
    '{:22} ours {:>8.4f}   torch {:>8.4f}': '{:22} nuestra {:>8.4f}   torch {:>8.4f}',
    'logits': 'logits',
    'exact LSE': 'LSE exacta',
    'huge K': 'K enorme',
    '65 536 draws of N(0, 1)': '65 536 muestras de N(0, 1)',
    'moderate': 'moderados',
    '1 000 draws of N(0, 3)': '1 000 muestras de N(0, 3)',
    'all equal': 'todos iguales',
    '1 000 times 100': '1 000 veces 100',
    'wide range': 'rango amplio',
    '1 000 draws, uniform in (-30 000, 30 000)': '1 000 muestras, uniformes en (-30 000, 30 000)',
    'very negative': 'muy negativos',
    '1 000 draws of -1 000 - N(0, 1)': '1 000 muestras de -1 000 - N(0, 1)',
    '0 and 99 times -10': '0 y 99 veces -10',
    'dominant, tiny rest': 'dominante, resto diminuto',
    '0 and 10 times -30': '0 y 10 veces -30',
    'overflow': 'desbordamiento',
    'underflow': 'subdesbordamiento',
    '{}: input': '{}: entrada',
    'shifted': 'desplazada',
    'shifted + log1p': 'desplazada + log1p',
    'SciPy': 'SciPy',
    'torch': 'torch',
    'worst, all inputs': 'peor, todas las entradas',
    'worst, ordinary inputs': 'peor, entradas corrientes',
    'same exponentials in NumPy and torch:': 'mismas exponenciales en NumPy y torch:',
    '1 + s, exact:         {}': '1 + s, exacto:              {}',
    '1 + s, rounded once:  {:.17g}': '1 + s, redondeado una vez:  {:.17g}',
    "NumPy's sum:          {:.17g}": 'suma de NumPy:              {:.17g}',
    "torch's sum:          {:.17g}": 'suma de torch:              {:.17g}',
    's alone, for log1p:   {:.17g}': 's sola, para log1p:         {:.17g}',
    'scale': 'escala',
    'each log-probability = {:.6f} = -log(1024)': 'cada log-probabilidad = {:.6f} = -log(1024)',
    'T <= {:.3f}. The upper bound T log K <= 0.01 guarantees':
        'T <= {:.3f}. La cota superior T log K <= 0.01 lo garantiza',
    'it only for T <= {:.4f}: that bound is reached only when all':
        'solo para T <= {:.4f}: esa cota solo se alcanza cuando todos los',
    'logits are equal, and the tense logits are far from equal':
        'logits son iguales, y los logits de los tiempos verbales distan de serlo',
    '  the infinite max is replaced by 0: log(inf + 0) = inf':
        '  el máximo infinito se sustituye por 0: log(inf + 0) = inf',
    '  x - max = [inf - inf, -inf - inf] = [nan, -inf], and the sum is nan':
        '  x - max = [inf - inf, -inf - inf] = [nan, -inf], y la suma es nan',
    'textbook:': 'de libro de texto:',
    ' shifted:': ' desplazada:',
    'float64 overflows above {:.2f}': 'float64 se desborda por encima de {:.2f}',
    # book/03-cross-entropy.md
    'loss = LSE(x) - x_y': 'pérdida = LSE(x) - x_y',
    'step': 'paso',
    'value (float32)': 'valor (float32)',
    'by hand: {:.6f} nats    F.cross_entropy: {:.6f} nats': 'a mano: {:.6f} nats    F.cross_entropy: {:.6f} nats',
    'probability of the true class:': 'prob. de la clase verdadera  :',
    'its gradient                 :': 'su gradiente                 :',
    "favourite's logit": 'logit del favorito',
    'exact loss': 'pérdida exacta',
    'its error': 'su error',
    'target': 'objetivo',
    'difference': 'diferencia',
    'position': 'posición',
    "loss (reduction='none')": "pérdida (reduction='none')",
    'counts': 'se cuenta',
    'sum / number of valid targets (3)        {:.6f}': 'suma / número de objetivos válidos (3)  {:.6f}',
    'sum / batch size (4): wrong              {:.6f}': 'suma / tamaño del lote (4): incorrecto  {:.6f}',
    'loss:': 'pérdida:',
    '  gradient:': '  gradiente:',
    'softmax - onehot, / 3 valid targets:\n': 'softmax - onehot, / 3 objetivos válidos:\n',
    'largest difference:': 'mayor diferencia:',
    'row sums:': 'sumas por fila:',
    'valid targets': 'objetivos válidos',
    'max |by hand - autograd|': 'max |a mano - autograd|',
    'tenses (this book)': 'tiempos verbales (este libro)',
    'Gemma 4 (text)': 'Gemma 4 (texto)',
    'model': 'modelo',
    'vocabulary K': 'vocabulario K',
    'loss of zero logits': 'pérdida con logits nulos',
    'mean loss of random logits N(0, s²)': 'pérdida media con logits aleatorios N(0, s²)',
    'log K (uniform guess)': 'log K (predicción uniforme)',
    'standard deviation s of the initial logits': 'desviación típica s de los logits iniciales',
    'loss at step 0 (nats)': 'pérdida en el paso 0 (nats)',
    'Initial loss, K = {}': 'Pérdida inicial, K = {}',
    'parents': 'padres',
    'local derivatives': 'derivadas locales',
    'loss {:.6f}': 'pérdida {:.6f}',
    'exactly log(1 + sum of exp(x_i - 92)) = {:.3g} nats': 'exactamente log(1 + suma de exp(x_i - 92)) = {:.3g} nats',
    'divides by': 'divide entre',
    'valid targets;': 'objetivos válidos;',
    'loss = {:.6f} = log 5 = {:.6f}': 'pérdida = {:.6f} = log 5 = {:.6f}',
    'gradient:': 'gradiente:',
    'its sum:': 'su suma:',
    'loss {:.12f} vs shifted by 7: {:.12f}': 'pérdida {:.12f}; con todos los logits desplazados en 7: {:.12f}',
    'softmax sums to 1 and the one-hot sums to 1; a shift of every logit':
        'la softmax suma 1 y el one-hot suma 1; desplazar todos los logits',
    '(the direction (1, ..., 1)) changes nothing, so the gradient has no':
        '(la dirección (1, ..., 1)) no cambia nada, así que el gradiente no tiene',
    'component along it': 'componente en esa dirección',
    'from a gap of about {:.1f} on: exp(-gap) rounds to 0': 'con gap de unos {:.1f} o más: exp(-gap) se redondea a 0',
    'once -gap is below log(smallest subnormal / 2) =': 'en cuanto -gap queda por debajo de log(menor subnormal / 2) =',
    '{:.2f}; between': '{:.2f}; entre',
    'that and log(smallest subnormal) = {:.2f},': 'ese valor y log(menor subnormal) = {:.2f},',
    'exp(-gap) still rounds up': 'exp(-gap) aún se redondea',
    'to the smallest subnormal, {:.3g}, and the loss is finite':
        'hacia arriba al menor subnormal, {:.3g}, y la pérdida es finita',
    # softcap_course/examples.py: TENSE_LABELS (translated where the pages and explorers show them)
    # book/04-temperature.md
    'logit': 'logit',
    'x / T          :': 'x / T            :',
    'unshifted      :': 'sin desplazar    :',
    'shifted by max :': 'menos el máximo  :',
    'x / T in float16   :': 'x / T en float16          :',
    'divide, then shift :': 'dividir y luego desplazar :',
    'shift, then divide :': 'desplazar y luego dividir :',
    'probabilities at T = 0.005:': 'probabilidades con T = 0.005:',
    'stable entropy at T = 0.005: {:.6g}': 'entropía estable con T = 0.005: {:.6g}',
    'H(T) of the tense logits': 'H(T) de los logits\nde los tiempos verbales',
    'log K: uniform': 'log K: uniforme',
    '0: one-hot': '0: one-hot',
    'temperature T (log scale)': 'temperatura T (escala logarítmica)',
    'entropy (nats)': 'entropía (nats)',
    'temperature': 'temperatura',
    'exact probability': 'probabilidad exacta',
    'frequency in 10 000 draws': 'frecuencia en 10 000 extracciones',
    'softmax at T = 1': 'softmax con T = 1',
    'dropped': 'descartado',
    'filter': 'filtro',
    'tenses kept at T = {:g}': 'tiempos mantenidos con T = {:g}',
    'tokens kept, of 1 000': 'tokens mantenidos, de 1 000',
    '{:<11}: differs from the reference in {} of 600': '{:<11}: difiere de la referencia en {} de 600',
    'argmax and every tie of a kept token kept:': 'se mantienen el argmax y todo empate de un token mantenido:',
    'largest difference from torch.softmax       : {:.2e}': 'mayor diferencia con torch.softmax       : {:.2e}',
    'largest difference from Categorical.entropy : {:.2e}': 'mayor diferencia con Categorical.entropy : {:.2e}',
    'T = {:.4f}: p(present simple) = {:.6f}': 'T = {:.4f}: p(presente simple) = {:.6f}',
    'a/T   binary entropy of sigmoid(a/T)   from the logits':
        'a/T   entropía binaria de sigmoid(a/T) a partir de los logits',
    'no: dividing by T > 0 keeps the order of the logits,': 'no: dividir entre T > 0 conserva el orden de los logits,',
    'so the argmax is the same at every temperature': 'así que el argmax es el mismo a cualquier temperatura',
    'exp overflows float16 beyond {:.3f}, so below':
        'exp se desborda en float16 por encima de {:.3f}, así que por debajo de',
    'T = {:.4f} for a top logit of {}': 'T = {:.4f} para un logit máximo de {}',
    # softcap_course/explorers.py (temperature explorer, shown in book/04-temperature.md)
    'softmax(logits / T),  T = {:.3g}': 'softmax(logits / T),  T = {:.3g}',
    'log K (uniform)': 'log K (uniforme)',
    'entropy = {:.3f} nats': 'entropía = {:.3f} nats',
    'temperature explorer': 'explorador de temperatura',
    # book/05-softcap.md
    'capped at 30': 'con tope de 30',
    'softmax before': 'softmax antes',
    'softmax after': 'softmax después',
    'exp overflows beyond': 'exp se desborda por encima de',
    'exp({:.2f}) in that dtype': 'exp({:.2f}) en ese dtype',
    'no cap': 'sin tope',
    'hard clip at ±30': 'recorte duro en ±30',
    'the five tenses': 'los cinco tiempos verbales',
    'raw logit x': 'logit sin acotar x',
    'clip: 1 inside, 0 outside': 'recorte: 1 dentro, 0 fuera',
    'softcap: 1 − (s/c)²': 'softcap: 1 − (s/c)²',
    'present simple, x = {:g}:\nsoftcap {:.4f}, clip 0': 'presente simple, x = {:g}:\nsoftcap {:.4f},\nrecorte 0',
    'other four\ntenses, x from\n0.5 to 3.1:\nabout 1': 'los otros cuatro\ntiempos, x de\n0.5 a 3.1:\nunos 1',
    'derivative with respect to x': 'derivada respecto a x',
    'clip gradient': 'gradiente del recorte',
    'softcap gradient': 'gradiente del softcap',
    'order of 10 000 logits kept:': 'se conserva el orden de 10 000 logits:',
    'largest |1 - (s/c)^2 - finite difference|: {:.2e}': 'máximo de |1 - (s/c)^2 - diferencia finita|: {:.2e}',
    'largest |1 - (s/c)^2 - torch autograd|    : {:.2e}': 'máximo de |1 - (s/c)^2 - autograd de torch|: {:.2e}',
    'yes': 'sí',
    'no': 'no',
    'bits p': 'bits p',
    'z* (correctly rounded)': 'z* (redondeo correcto)',
    "PyTorch's tanh is 1 from": 'la tanh de PyTorch es 1 desde',
    'first number ≥ z*?': '¿primer número ≥ z*?',
    'zero gradient past x (c = 30)': 'gradiente cero más allá de x (c = 30)',
    'gradient, float64': 'gradiente, float64',
    'dtype of the capped logits under autocast:': 'dtype de los logits con tope bajo autocast:',
    'vocabulary V': 'vocabulario V',
    'cap c': 'tope c',
    'loss computed directly': 'pérdida calculada directamente',
    'sum over the row': 'suma sobre la fila',
    'logit of': 'logit de',
    'cross-entropy': 'entropía cruzada',
    'cap only': 'solo tope',
    'z-loss only': 'solo z-loss',
    'cap and z-loss': 'tope y z-loss',
    'z-loss only   : largest |formula - autograd| = {:.1e}': 'solo z-loss  : máximo de |fórmula - autograd| = {:.1e}',
    'cap and z-loss: largest |formula - autograd| = {:.1e}': 'tope y z-loss: máximo de |fórmula - autograd| = {:.1e}',
    'uniform over the five tenses': 'uniforme sobre los\ncinco tiempos verbales',
    'p(present simple)': 'p(presente simple)',
    'Gemma2Config; Gemma 2 report (2024)': 'Gemma2Config; informe de Gemma 2 (2024)',
    'Gemma3TextConfig; Gemma 3 Technical Report (2025): QK-norm instead':
        'Gemma3TextConfig; informe técnico de Gemma 3 (2025): QK-norm en su lugar',
    'Gemma 4 conversion script (E2B, E4B, 26B-A4B, 31B)': 'script de conversión de Gemma 4 (E2B, E4B, 26B-A4B, 31B)',
    'final-logit softcap': 'softcap de los logits finales',
    'attention-logit softcap': 'softcap de los logits de atención',
    'source': 'fuente',
    'none': 'no hay',
    'logit_softcap must be positive, got {}': 'logit_softcap debe ser > 0, se recibió {}',
    'gradient {}: |x| = {:.4f} c  (check: {:.4f})': 'gradiente {}: |x| = {:.4f} c  (comprobación: {:.4f})',
    'c > {:.3f}: then log(1 + 1023 exp(-2c)) = {:.3e}': 'c > {:.3f}: entonces log(1 + 1023 exp(-2c)) = {:.3e}',
    'correctly rounded    : from u = {:.4f}': 'redondeo correcto     : desde u = {:.4f}',
    "NumPy's float32 tanh : from u = {:.4f}": 'tanh float32 de NumPy : desde u = {:.4f}',
    "PyTorch's            : from u = {:.4f}": 'la de PyTorch         : desde u = {:.4f}',
    'never: tanh is strictly increasing, and so is division by T > 0':
        'nunca: tanh es estrictamente creciente, y también lo es la división entre T > 0',
    # softcap_course/explorers.py (softcap explorer, shown in book/05-softcap.md)
    'cap·tanh(x/cap)': 'tope·tanh(x/tope)',
    'the logits': 'los logits',
    'raw logit': 'logit sin acotar',
    'capped logit': 'logit con tope',
    'cap = {:.3g}, logits × {:.3g}': 'tope = {:.3g}, logits × {:.3g}',
    'raw': 'sin acotar',
    'capped': 'con tope',
    'softmax before and after': 'softmax antes y después',
    '1 − tanh²(x / cap)': '1 − tanh²(x / tope)',
    'gradient factor': 'factor de gradiente',
    'softcap explorer': 'explorador del softcap',
    'cap': 'tope',
    'logit scale': 'escala de los logits',
    # book/06-softcap-gpu.md
    'the CPU': 'la CPU',
    'This page ran on {} ({}),': 'Esta página se ejecutó en {} ({}),',
    'PyTorch {}, {} threads.': 'PyTorch {}, {} hilos.',
    'the bfloat16 number after 30 is {}: a gap of {}': 'el número bfloat16 siguiente a 30 es {}: una separación de {}',
    'float16 overflows exp(x) above x = log(65504) = {:.2f}':
        'float16 desborda exp(x) por encima de x = log(65504) = {:.2f}',
    'loss (float64)': 'pérdida (float64)',
    'bfloat16 spacing there': 'separación de bfloat16 ahí',
    '|error| in bfloat16: smallest': '|error| en bfloat16: menor',
    'largest': 'mayor',
    '|error| in float32: largest': '|error| en float32: mayor',
    '{:.1f} to {:.1f}': 'de {:.1f} a {:.1f}',
    ' or ': ' o ',
    'gradient computed in bfloat16': 'gradiente calculado en bfloat16',
    'in float32': 'en float32',
    'gradient ': 'gradiente',
    'gradcheck, backward 1 - (s / cap)**2: {}': 'gradcheck, retropropagación 1 - (s / cap)**2: {}',
    'gradcheck, backward 1 - tanh(z)**2:   {}': 'gradcheck, retropropagación 1 - tanh(z)**2:   {}',
    'first call (compiles forward and backward): {:.1f} s':
        'primera llamada (compila la pasada hacia delante y la retropropagación): {:.1f} s',
    'eager loss {:.6f}, compiled loss {:.6f}': 'pérdida eager {:.6f}, pérdida compilada {:.6f}',
    'torch.compile failed here: {}:': 'torch.compile falló aquí: {}:',
    'as reported': 'según lo publicado',
    'time (ms)': 'tiempo (ms)',
    'memory (MB)': 'memoria (MB)',
    'time / eager': 'tiempo / eager',
    'memory / eager': 'memoria / eager',
    'eager PyTorch': 'PyTorch eager',
    'torch.compile': 'torch.compile',
    'Cut Cross-Entropy kernel': 'kernel de Cut Cross-Entropy',
    'N tokens': 'N tokens',
    'logits, bf16 (GB)': 'logits, bf16 (GB)',
    'float32 copy (GB)': 'copia en float32 (GB)',
    'float32 gradient (GB)': 'gradiente en float32 (GB)',
    'together (GB)': 'en total (GB)',
    'for comparison: W in bf16 (GB)': 'para comparar: W en bf16 (GB)',
    'max |dL/dh formula - autograd|: {:.1e}': 'max |dL/dh fórmula - autograd|: {:.1e}',
    'max |dL/dW formula - autograd|: {:.1e}': 'max |dL/dW fórmula - autograd|: {:.1e}',
    'losses: eager {:.6f}, checkpointed chunks {:.6f}': 'pérdidas: eager {:.6f}, chunks con checkpoint {:.6f}',
    'max |grad difference| {:.1e}': 'max |diferencia de gradientes| {:.1e}',
    'N x V float32 logits (MiB)': 'logits N x V en float32 (MiB)',
    'eager peak (MiB)': 'pico de eager (MiB)',
    'chunks of 128 rows, peak (MiB)': 'chunks de 128 filas, pico (MiB)',
    'ratio': 'cociente',
    ('**{run}**: N={n}, D={d}, V={v}, {dtype}, chunk_size={chunk_size}, median of {rounds} x {repeats} repeats, '
     '{date}; machine: {machine}, {cpus} CPUs usable, {memory} GiB, {platform}, torch {torch}'):
        ('**{run}**: N={n}, D={d}, V={v}, {dtype}, chunk_size={chunk_size}, mediana de {rounds} x {repeats} '
         'repeticiones, {date}; máquina: {machine}, {cpus} CPU utilizables, {memory} GiB, {platform}, torch {torch}'),
    'variant': 'variante',
    'status': 'estado',
    'time (s)': 'tiempo (s)',
    'peak memory (MiB)': 'pico de memoria (MiB)',
    '{} characters, {} distinct;': '{} caracteres, {} distintos;',
    '{} steps of {} windows, Adam lr={}': '{} pasos de {} ventanas, Adam lr={}',
    'both runs: {:.1f} s': 'las dos ejecuciones: {:.1f} s',
    'no softcap': 'sin softcap',
    'softcap 10': 'softcap 10',
    'training loss': 'pérdida de entrenamiento',
    'cross-entropy (nats)': 'entropía cruzada (nats)',
    'largest |logit| in the batch': 'mayor |logit| del lote',
    'run': 'ejecución',
    'mean loss, last 50 steps': 'pérdida media, últimos 50 pasos',
    'largest |logit| seen': 'mayor |logit| observado',
    'jumps of the loss by > 0.5 nats': 'saltos de la pérdida de > 0.5 nats',
    '{} runs: {} learning rates x {} seeds x {} variants x {} dtypes,':
        '{} ejecuciones: {} tasas de aprendizaje x {} semillas x {} variantes x {} dtypes,',
    '{:.0f} minutes on {} CPUs ({}, torch {})': '{:.0f} minutos en {} CPU ({}, torch {})',
    'model: {} blocks, d_model {}, {} heads, context {} characters,':
        'modelo: {} bloques, d_model {}, {} cabezas, contexto de {} caracteres,',
    '{:,} parameters': '{:,} parámetros',
    'training: {} steps of {} windows, warm-up {} steps, weight decay {}':
        'entrenamiento: {} pasos de {} ventanas, calentamiento de {} pasos,\ndecaimiento de pesos {}',
    "corpus: {:,} characters of Python {}'s standard library,":
        'corpus: {:,} caracteres de la biblioteca estándar de Python {},',
    'the last {:.0%} held out for validation': 'el último {:.0%} reservado para validación',
    'learning rates: {}': 'tasas de aprendizaje: {}',
    'uniform over {} characters: {:.3f} nats': 'uniforme sobre {} caracteres: {:.3f} nats',
    'character frequencies: {:.3f} nats': 'frecuencias de caracteres: {:.3f} nats',
    # the sweep's variants (softcap_course.stability.VARIANTS), shown as legends and row labels
    'cap 30': 'tope 30',
    'cap 15': 'tope 15',
    'cap 5': 'tope 5',
    'z-loss 1e-4': 'z-loss 1e-4',
    'cap 30 + z-loss 1e-4': 'tope 30 + z-loss 1e-4',
    'learning rate (AdamW)': 'tasa de aprendizaje (AdamW)',
    'fraction of {} seeds': 'fracción de {} semillas',
    '{}: runs that {}': '{}: ejecuciones que {}',
    # the kinds of "{}: runs that {}"
    'diverged': 'divergieron',
    'learned': 'aprendieron',
    'no divergence up to lr': 'sin divergencia hasta lr',
    'every seed learned up to lr': 'todas las semillas aprendieron hasta lr',
    'best lr': 'mejor lr',
    'validation loss (nats)': 'pérdida de validación (nats)',
    "minus no cap's at lr {:.3g} (95% CI)": 'menos la de sin tope en lr {:.3g} (IC 95%)',
    'learning rate': 'tasa de aprendizaje',
    'largest |logit| (median of seeds)': 'mayor |logit| (mediana de las semillas)',
    'mean log Z (median of seeds)': 'log Z medio (mediana de las semillas)',
    'float32, learning rate {:.3g}': 'float32, tasa de aprendizaje {:.3g}',
    'largest |s| at lr {:.3g} (median of seeds)': 'mayor |s| en lr {:.3g} (mediana de las semillas)',
    'slope 1 - (s/c)^2 there, at most': 'pendiente 1 - (s/c)^2 ahí, como mucho',
    'largest possible loss 2c + log V (nats)': 'mayor pérdida posible 2c + log V (nats)',
    'lr {:.3g}, after {} steps, median of seeds:': 'lr {:.3g}, tras {} pasos, mediana de las semillas:',
    '  mean log Z {:.2f} without the z-loss, {:.2f} with it': '  log Z medio {:.2f} sin la z-loss, {:.2f} con ella',
    "  the z-loss's gradient at log Z = {:.2f}: 2e-4 * log Z * p_i,":
        '  el gradiente de la z-loss en log Z = {:.2f}: 2e-4 * log Z * p_i,',
    '  {:.1e} per token, summed over the vocabulary': '  {:.1e} por token, sumado sobre el vocabulario',
    'float32 logits: {:.1f} GB; bfloat16 gradient: {:.1f} GB':
        'logits en float32: {:.1f} GB; gradiente en bfloat16: {:.1f} GB',
    'gradcheck of the correct Softcap in float32: {}.': 'gradcheck del Softcap correcto en float32: {}.',
    'Finite differences with a step of 1e-6 are swamped by float32':
        'Las diferencias finitas con un paso de 1e-6 quedan ahogadas por el redondeo',
    'rounding (about 1e-7 relative), so even a right backward looks wrong.':
        'de float32 (~1e-7 relativo): hasta una retropropagación correcta parece errónea.',
    '4096 x 0.001 accumulated in bfloat16: {:.4f}; in float32: {:.4f}':
        '4096 x 0.001 acumulados en bfloat16: {:.4f}; en float32: {:.4f}',
    "The input z (or tanh(z / cap)): one more tensor of the logits' size,":
        'La entrada z (o tanh(z / cap)): un tensor más del tamaño de los logits,',
    'since the output is needed anyway by the loss. Saving the output and':
        'ya que la pérdida necesita la salida de todos modos. Guardar la salida y',
    'using 1 - (s / cap)**2 keeps one tensor instead of two.':
        'usar 1 - (s / cap)**2 guarda un tensor en lugar de dos.',
    'with |s_i| <= 5: loss = LSE(s) - s_t <= (5 + log V) + 5 = {:.2f} nats':
        'con |s_i| <= 5: pérdida = LSE(s) - s_t <= (5 + log V) + 5 = {:.2f} nats',
    'the largest batch loss any cap-5 run recorded: {:.2f} nats':
        'la mayor pérdida de un lote registrada por una ejecución con tope 5: {:.2f} nats',
    # softcap_course/benchmark.py: the plot of results.png, drawn on page 06
    'forward + backward time (s)': 'tiempo hacia delante + retropropagación (s)',
    'N={}, D={}, V={}, {} on {}': 'N={}, D={}, V={}, {} en {}',
    # softcap_course/benchmark.py: status_words, a result's status ("skipped: needs a GPU")
    'ok': 'ok',
    'skipped': 'omitida',
    'failed': 'falló',
    'needs a GPU': 'necesita una GPU',
    'not installed ({})': 'no instalado ({})',
    "Triton's interpreter would take minutes per step at N x V = {}: run it at N x V <= {} on a CPU":
        'el intérprete de Triton tardaría minutos por paso con N x V = {}: ejecútala con N x V <= {} en una CPU',
    # book/07-softcap-triton.md
    'loss on given logits': 'pérdida sobre logits dados',
    'fused linear + loss': 'capa lineal + pérdida fusionadas',
    'work': 'trabajo',
    'GB moved (at least)': 'GB movidos (como mínimo)',
    'FLOP per byte': 'FLOP por byte',
    'memory floor (ms)': 'suelo de memoria (ms)',
    'compute floor (ms)': 'suelo de cómputo (ms)',
    'eager forward + backward held {:.1f} times':
        'la pasada hacia delante + retropropagación en modo eager retuvo {:.1f} veces',
    "the bfloat16 logits' {} bytes": 'los {} bytes de los logits bfloat16',
    'online, in blocks of {}: {!r}': 'online, en bloques de {}: {!r}',
    'difference {:.1e}': 'diferencia {:.1e}',
    'running maximum $m$': 'máximo acumulado $m$',
    'partial log-sum-exp $m + \\log d$': 'log-sum-exp parcial $m + \\log d$',
    'log-sum-exp of the whole row': 'log-sum-exp de la fila entera',
    'columns read': 'columnas leídas',
    'One row read in blocks of 16: the running sum is rescaled at each new maximum':
        'Una fila leída en bloques de 16: la suma acumulada se reescala\nen cada nuevo máximo',
    'triton {}, running on {}': 'triton {}, ejecutándose en {}',
    ' through the interpreter': ' a través del intérprete',
    'largest difference {:.1e}; float32 rounding of numbers up to':
        'mayor diferencia {:.1e}; redondeo en float32 de números de hasta',
    'the cap, 30, is {:.1e}': 'el tope, 30, es {:.1e}',
    'row': 'fila',
    'kernel (float32)': 'kernel (float32)',
    'loss': 'pérdida',
    'gradient (largest entry)': 'gradiente (mayor entrada)',
    'autograd (float64)': 'autograd (float64)',
    'largest difference': 'mayor diferencia',
    'spread': 'dispersión',
    'loss error': 'error de la pérdida',
    'gradient error': 'error del gradiente',
    'Triton kernel': 'kernel de Triton',
    "peak tensor memory, in bfloat16 logits' worth": 'pico de memoria de tensores, en múltiplos de los logits bfloat16',
    'Forward + backward of the softcapped loss,\n64 x 4096 bfloat16 logits':
        'Pasada hacia delante + retropropagación de la pérdida\ncon softcap, logits bfloat16 de 64 x 4096',
    'million entries per second': 'millones de entradas por segundo',
    'registers / thread': 'registros / hilo',
    'warps': 'warps',
    'spilled bytes': 'bytes desbordados (spill)',
    'programs / SM': 'programas / SM',
    'warp slots used': 'huecos de warp usados',
    'limited by': 'limitado por',
    # what gpu_compile.CompiledKernel.limited_by() returns (also glued into the prose: "el recurso que lo limita: ...")
    'registers': 'registros',
    'warp slots': 'huecos de warp',
    'shared memory': 'memoria compartida',
    'programs per SM': 'programas por SM',
    'instructions in the whole kernel:': 'instrucciones en todo el kernel:',
    'the first exponentials:': 'las primeras exponenciales:',
    '{} is the float32 {:.8f};': '{} es el float32 {:.8f};',
    '**{}**: N={}, D={}, V={}, {}, median of {} x {} repeats, {}; machine: {}, torch {}, triton {}':
        '**{}**: N={}, D={}, V={}, {}, mediana de {} x {} repeticiones, {}; máquina: {}, torch {}, triton {}',
    ' (Triton through its interpreter: its time is not a performance figure)':
        ' (Triton a través de su intérprete: su tiempo no es una medida de rendimiento)',
    # the benchmark's column titles (page 07's `columns`)
    'peak (MiB)': 'pico (MiB)',
    'of peak bandwidth': 'del ancho de banda máximo',
    ('No GPU run in `benchmarks/` yet: on a machine with an NVIDIA GPU, `make benchmark-gpu` adds one, and this '
     'cell shows it.'):
        ('Todavía no hay ninguna ejecución en GPU en `benchmarks/`: en una máquina con una GPU de NVIDIA, `make '
         'benchmark-gpu` añade una, y esta celda la muestra.'),
    'At most one per block after the first: {}.': 'Como mucho una por bloque después del primero: {}.',
    "With the maximum in the first block, none: every later block's":
        'Con el máximo en el primer bloque, ninguna: el máximo de cada',
    "maximum is smaller, and exp(m - m') is exp(0) = 1.": "bloque posterior es menor, y exp(m - m') es exp(0) = 1.",
    'The softcap maps -inf to {}, not to -inf: each padded':
        'El softcap lleva -inf a {}, no a -inf: cada carril de relleno',
    'lane would add exp(-cap - m) to the sum.': 'añadiría exp(-cap - m) a la suma.',
    'log-sum-exp of the 5 zeros: {:.6f}; with 3 padded lanes at':
        'log-sum-exp de los 5 ceros: {:.6f}; con 3 carriles de relleno en',
    '-cap: {:.6f}. The mask must act after the softcap.': '-cap: {:.6f}. La máscara debe actuar después del softcap.',
    '{:.1f} ms instead of {:.1f} ms, and {:.1f} GB more memory for the gradient':
        '{:.1f} ms en lugar de {:.1f} ms, y {:.1f} GB más de memoria para el gradiente',
    'From row {} on: a batch of {} tokens just fits (its last row is':
        'A partir de la fila {}: un lote de {} tokens cabe justo (su última fila es',
    '{}), any larger batch reads the wrong memory. The graded kernel':
        'la {}), y cualquier lote mayor lee memoria equivocada. El kernel evaluable',
    'converts the program id to int64 first.': 'convierte primero el id del programa a int64.',
    # book/08-vocab-parallel.md
    'tokens N': 'tokens N',
    'float32 logits (GiB)': 'logits float32 (GiB)',
    'per device, P = 2': 'por dispositivo, P = 2',
    'ranks P': 'rangos P',
    'loss statistics, 3N (MiB)': 'estadísticos de la pérdida, 3N (MiB)',
    'sent per rank (MiB)': 'enviado por rango (MiB)',
    'logits per rank (MiB)': 'logits por rango (MiB)',
    'rank': 'rango',
    'hidden grad error': 'error del gradiente de los estados ocultos',
    'weight rows grad error': 'error del gradiente de las filas del peso',
    'processes': 'procesos',
    'fastest step (s)': 'paso más rápido (s)',
    'slowest step (s)': 'paso más lento (s)',
    'spread (slowest / fastest - 1)': 'dispersión (más lento / más rápido - 1)',
    'peak memory per process': 'pico de memoria por proceso',
    'time per step': 'tiempo por paso',
    'processes P': 'procesos P',
    'relative to one process': 'relativo a un proceso',
    'N={}, V={}, {} CPU cores': 'N={}, V={}, {} núcleos de CPU',
    'this page ran on {} CPU cores, N = {}, V = {}': 'esta página se ejecutó en {} núcleos de CPU, N = {}, V = {}',
    'columns per rank': 'columnas por rango',
    'CPU s, summed over ranks': 's de CPU, sumados sobre los rangos',
    'CPU / 1 process': 'CPU / 1 proceso',
    'wall s (slowest rank)': 's de reloj (rango más lento)',
    'wall / 1 process': 'reloj / 1 proceso',
    '{} columns per rank. Each all-reduce of the loss carries':
        '{} columnas por rango. Cada all-reduce de la pérdida lleva',
    "N = 65536 numbers per rank, whatever V or P is; the hidden states'":
        'N = 65536 números por rango, sean cuales sean V y P; el gradiente de',
    'gradient carries N x D = {:,} numbers.': 'los estados ocultos lleva N x D = {:,} números.',
    'target out of range': 'objetivo fuera del intervalo válido',
    '{}: {} (after {:.1f} s)': '{}: {} (tras {:.1f} s)',
    '{}: {} in gloo, its connection to rank 0 gone': '{}: {} en gloo, perdida su conexión con el rango 0',
    "Here rank 0's process ended, so rank 1's all-reduce failed on the":
        'Aquí el proceso del rango 0 terminó, así que el all-reduce del rango 1',
    'dropped connection. In a real job the failing rank often lives on':
        'falló al caerse la conexión. En un trabajo real, el rango que falla',
    '(its error is caught, logged, retried) and the others wait in their':
        'suele seguir vivo (su error se captura, se registra, se reintenta) y',
    'all-reduce until a time-out, often many minutes. Decide on data that':
        'los demás esperan en su all-reduce hasta agotar el tiempo de espera,',
    'every rank has (the owner counts, all-reduced), so that every rank':
        'a menudo muchos minutos. Decide con datos que tengan todos los rangos',
    'raises together.':
        '(los recuentos de dueños, sumados con all-reduce), para que todos los\nrangos lancen la excepción a la vez.',
    'local softmax of columns 0-1:': 'softmax local de las columnas 0-1:',
    'the right values:            ': 'los valores correctos:            ',
    "The local one is normalised over the rank's columns only; the":
        'La local está normalizada solo sobre las columnas del rango; el',
    'gradient needs exp(s - lse) with the GLOBAL lse.': 'gradiente necesita exp(s - lse) con el lse GLOBAL.',
    # softcap_course/vocab_parallel_benchmark.py (results.md, shown on page 08)
    'time per step (s)': 'tiempo por paso (s)',
    'time / 1 process': 'tiempo / 1 proceso',
    'peak per process (MiB)': 'pico por proceso (MiB)',
    'peak / 1 process': 'pico / 1 proceso',
    'peak / full logits': 'pico / logits completos',
    ('N={}, V={}, float32 logits ({:.0f} MiB), cap={}, gloo on {} ({} CPUs usable), torch {}, median of {} steps '
     'after a warm-up, {}'):
        ('N={}, V={}, logits float32 ({:.0f} MiB), tope={}, gloo en {} ({} CPU utilizables), torch {}, mediana de '
         '{} pasos tras un calentamiento, {}'),
    # book/summary.md
    'exp overflows above': 'exp desborda por encima de',
    'exp is 0 below': 'exp es 0 por debajo de',
    'tanh(z) is 1 from z =': 'tanh(z) es 1 desde z =',
}

TRANSLATIONS = {"es": SPANISH}
