"""What customers and agents say, per call topic and language (Spanish, some English).

The renderers (ElevenLabs transcripts, Webex VTT transcripts, WhatsApp chats, SMS bodies) draw
their text from here so a topic reads the same on every channel. Texts are written for this
project; ``{placeholders}`` are filled by :func:`fill` from values the renderer draws
(amounts, last four digits, dates), never from real data.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from simulator.model import BANK_NAME, TOPICS


@dataclass(frozen=True, slots=True)
class TopicScript:
    """The lines that make one topic recognisable. Each tuple holds interchangeable variants."""

    ask: tuple[str, ...]  #: customer states the reason for calling
    answer: tuple[str, ...]  #: agent resolves (or explains) it
    tool: str  #: bank API the AI agent calls for it ("" = none)
    needs_otp: bool  #: the AI agent sends an SMS OTP before acting
    whatsapp: tuple[str, ...]  #: how a customer writes it on WhatsApp
    summary: str  #: analysis summary (ElevenLabs ``transcript_summary``), third person


_ES: dict[str, TopicScript] = {
    "bloqueo_tarjeta": TopicScript(
        ("Perdí mi tarjeta débito y necesito bloquearla ya.",
         "Me robaron la billetera con la tarjeta de crédito, quiero bloquearla.",
         "No encuentro mi tarjeta desde ayer, ¿la pueden bloquear?"),
        ("Listo, la tarjeta terminada en {last4} quedó bloqueada. Le llegará un SMS de confirmación y puede pedir la reposición en la app.",
         "Ya bloqueé la tarjeta terminada en {last4}. La nueva le llega en cinco días hábiles."),
        "bloquear_tarjeta", True,
        ("Perdí la tarjeta, necesito bloquearla", "me robaron la tarjeta 😟 cómo la bloqueo?"),
        "El cliente reportó la pérdida de su tarjeta y se bloqueó la tarjeta terminada en {last4}.",
    ),
    "transaccion_no_reconocida": TopicScript(
        ("Me aparece una compra de {amount} pesos que yo no hice.",
         "Tengo un cobro en la tarjeta que no reconozco, de una tienda en línea."),
        ("Registré la reclamación número {ticket}. Un analista de fraude la revisa en máximo quince días hábiles.",
         "Dejé la transacción en disputa con el radicado {ticket} y bloqueé la tarjeta de forma preventiva."),
        "crear_reclamacion", True,
        ("tengo un cobro que no reconozco de {amount}", "Hola, me salió una compra rara en la tarjeta"),
        "El cliente no reconoce una compra de {amount} pesos; se radicó la reclamación {ticket}.",
    ),
    "suplantacion": TopicScript(
        ("Me llamaron diciendo que eran del banco y me pidieron la clave, ¿eso es normal?",
         "Recibí un mensaje raro pidiendo un código que me llegó por SMS."),
        ("El banco nunca le pide claves ni códigos. Vamos a revisar su cuenta y dejar una alerta de seguridad.",
         "Hizo bien en llamar. No comparta ese código; dejo el caso {ticket} para el equipo de fraude."),
        "", False,
        ("Me llegó un código que yo no pedí, alguien está intentando entrar?", "me llamaron del 'banco' pidiendo la clave"),
        "El cliente reportó un posible intento de suplantación; se le indicó no compartir códigos.",
    ),
    "pago_tarjeta": TopicScript(
        ("Quiero saber cuánto debo pagar de la tarjeta de crédito este mes.",
         "¿Cuál es el pago mínimo de mi tarjeta y hasta cuándo tengo plazo?"),
        ("El pago mínimo es de {amount} pesos y la fecha límite es el {day}. Le envío el enlace de pago por SMS.",
         "Su pago total es de {amount} pesos con fecha límite {day}."),
        "consultar_pago_tarjeta", False,
        ("cuanto debo pagar de la tarjeta?", "Necesito el link para pagar la tarjeta"),
        "El cliente consultó el pago de su tarjeta de crédito: {amount} pesos con vencimiento el {day}.",
    ),
    "cupo_tarjeta": TopicScript(
        ("Quisiera un aumento de cupo en mi tarjeta de crédito.",
         "¿Me pueden subir el cupo de la tarjeta? Voy a viajar."),
        ("Su solicitud de aumento de cupo quedó radicada con el número {ticket}; la respuesta llega en tres días.",),
        "solicitar_aumento_cupo", True,
        ("quiero aumentar el cupo de mi tarjeta",),
        "El cliente pidió un aumento de cupo; se radicó la solicitud {ticket}.",
    ),
    "avance_tarjeta": TopicScript(
        ("¿Cómo hago un avance en efectivo con la tarjeta?",
         "Necesito sacar un avance de {amount} pesos."),
        ("Puede hacer el avance en cualquier cajero con su clave; el costo es de {fee} pesos más intereses.",),
        "", False,
        ("como hago un avance con la tarjeta?",),
        "El cliente preguntó cómo hacer un avance en efectivo; se le explicaron costos y canales.",
    ),
    "saldo_movimientos": TopicScript(
        ("Quiero saber el saldo de mi cuenta de ahorros.",
         "¿Me puede decir los últimos movimientos de mi cuenta?"),
        ("El saldo disponible de su cuenta terminada en {last4} es de {amount} pesos.",
         "Su último movimiento fue una compra de {amount} pesos el {day}."),
        "consultar_saldo", True,
        ("SALDO", "cuánto tengo en la cuenta de ahorros?"),
        "El cliente consultó el saldo de su cuenta terminada en {last4}.",
    ),
    "extracto": TopicScript(
        ("Necesito el extracto de mi cuenta del mes pasado.",
         "¿Me pueden enviar el extracto de la tarjeta al correo?"),
        ("Le envié el extracto a su correo registrado. Debe llegarle en unos minutos.",),
        "enviar_extracto", True,
        ("me pueden mandar el extracto?",),
        "El cliente solicitó su extracto; se envió al correo registrado.",
    ),
    "clave_app": TopicScript(
        ("Se me bloqueó la clave de la app y no puedo entrar.",
         "Olvidé la contraseña de la banca móvil."),
        ("Ya desbloqueé su usuario. Ingrese a la app y cree una clave nueva con el código que le llegó por SMS.",),
        "desbloquear_usuario", True,
        ("no puedo entrar a la app, se bloqueó la clave", "olvidé mi contraseña de la app"),
        "El cliente tenía el usuario de la app bloqueado; se desbloqueó tras validar un código OTP.",
    ),
    "certificado_bancario": TopicScript(
        ("Necesito un certificado bancario para un trámite.",),
        ("Le envié el certificado bancario de su cuenta al correo registrado.",),
        "generar_certificado", False,
        ("necesito un certificado bancario",),
        "El cliente pidió un certificado bancario; se envió por correo.",
    ),
    "credito_libre_inversion": TopicScript(
        ("Quiero información de un crédito de libre inversión por {amount} pesos.",
         "¿Qué tasa tienen para un préstamo personal?"),
        ("La tasa actual es del {rate} % efectivo anual. Un asesor le ayuda con la solicitud.",),
        "", False,
        ("info de credito de libre inversion porfa",),
        "El cliente pidió información de un crédito de libre inversión por {amount} pesos.",
    ),
    "estado_credito": TopicScript(
        ("Quiero saber cómo va mi solicitud de crédito.",),
        ("Su solicitud {ticket} está aprobada y el desembolso se hace en dos días hábiles.",
         "Su solicitud {ticket} sigue en estudio; le avisamos por SMS cuando haya respuesta."),
        "consultar_solicitud", False,
        ("como va mi solicitud de credito?",),
        "El cliente consultó el estado de la solicitud de crédito {ticket}.",
    ),
    "paz_y_salvo": TopicScript(
        ("Ya pagué el crédito y necesito el paz y salvo.",),
        ("El paz y salvo de su crédito se envió a su correo registrado.",),
        "generar_paz_y_salvo", False,
        ("necesito el paz y salvo del credito",),
        "El cliente pidió el paz y salvo de su crédito; se envió por correo.",
    ),
    "english_service": TopicScript(
        ("¿Me pueden atender en inglés?",),
        ("Claro, le comunico con un asesor bilingüe.",),
        "", False,
        ("Hola, do you speak English?",),
        "El cliente pidió atención en inglés.",
    ),
    "cobranza": TopicScript(
        ("Me llamaron por una cuota atrasada del crédito.",),
        ("Podemos hacer un acuerdo de pago: {amount} pesos el {day}. Le envío el enlace por SMS.",),
        "registrar_acuerdo_pago", False,
        ("me llamaron por una cuota atrasada",),
        "Se acordó con el cliente un pago de {amount} pesos para el {day}.",
    ),
}

_EN: dict[str, TopicScript] = {
    "bloqueo_tarjeta": TopicScript(
        ("I lost my debit card and need to block it right away.",),
        ("Done, the card ending in {last4} is blocked. You'll get a confirmation text.",),
        "bloquear_tarjeta", True, ("I lost my card, how do I block it?",),
        "The customer reported a lost card; the card ending in {last4} was blocked.",
    ),
    "transaccion_no_reconocida": TopicScript(
        ("There's a charge of {amount} pesos on my card that I didn't make.",),
        ("I opened claim {ticket}; the fraud team will review it within fifteen business days.",),
        "crear_reclamacion", True, ("there is a charge I don't recognise",),
        "The customer disputed a charge of {amount} pesos; claim {ticket} was opened.",
    ),
    "saldo_movimientos": TopicScript(
        ("Could you tell me the balance of my savings account?",),
        ("The available balance of the account ending in {last4} is {amount} pesos.",),
        "consultar_saldo", True, ("What's my balance?",),
        "The customer asked for the balance of the account ending in {last4}.",
    ),
    "pago_tarjeta": TopicScript(
        ("How much do I owe on my credit card this month?",),
        ("The minimum payment is {amount} pesos, due on {day}. I'll text you the payment link.",),
        "consultar_pago_tarjeta", False, ("I need the link to pay my card",),
        "The customer asked about the credit card payment: {amount} pesos due on {day}.",
    ),
    "clave_app": TopicScript(
        ("My app password is locked and I can't log in.",),
        ("Your user is unlocked; create a new password with the code we just texted you.",),
        "desbloquear_usuario", True, ("I can't log into the app",),
        "The customer's app user was locked; it was unlocked after an OTP check.",
    ),
    "english_service": TopicScript(
        ("Hi, I need help with my account, do you speak English?",
         "I'm calling from the US about a transfer to my account."),
        ("Of course. Your transfer of {amount} pesos was credited on {day}.",),
        "consultar_saldo", True, ("Hello, I need help with a transfer",),
        "An English-speaking customer asked about a transfer of {amount} pesos.",
    ),
}

#: generic lines shared by every topic
GREETING = {
    "es": (f"Hola, le habla Sara, la asistente virtual de {BANK_NAME}. ¿En qué le puedo ayudar?",),
    "en": (f"Hello, this is Sara, {BANK_NAME}'s virtual assistant. How can I help you today?",),
}
AGENT_GREETING = {
    "es": (f"{BANK_NAME}, buenos días, habla {{agent}}. ¿Con quién tengo el gusto?",
           f"Bienvenido a {BANK_NAME}, le atiende {{agent}}. ¿En qué le colaboro?"),
    "en": (f"{BANK_NAME}, this is {{agent}} speaking. How may I help you?",),
}
CUSTOMER_NAME = {"es": ("Con {customer}.", "Hola, habla {customer}."), "en": ("Hi, this is {customer}.",)}
ASK_ID = {
    "es": ("Con gusto. Para validar su identidad, ¿me confirma su número de documento?",),
    "en": ("Sure. To verify your identity, could you give me your ID number?",),
}
GIVE_ID = {"es": ("Sí, es el {document_spoken}.",), "en": ("Yes, it's {document_spoken}.",)}
OTP_SENT = {
    "es": ("Le acabo de enviar un código por SMS. ¿Me lo dicta, por favor?",),
    "en": ("I've just texted you a code. Could you read it to me?",),
}
OTP_READ = {"es": ("Es el {otp_spoken}.",), "en": ("It's {otp_spoken}.",)}
ANYTHING_ELSE = {"es": ("¿Le puedo ayudar en algo más?",), "en": ("Is there anything else I can help with?",)}
BYE_CUSTOMER = {"es": ("No, eso era todo, muchas gracias.", "Nada más, gracias."), "en": ("No, that's all, thanks.",)}
BYE_AGENT = {
    "es": (f"Gracias por comunicarse con {BANK_NAME}. Que tenga un buen día.",),
    "en": (f"Thank you for calling {BANK_NAME}. Have a good day.",),
}
TRANSFER = {
    "es": ("Para esto lo comunico con un asesor. Un momento, por favor.",
           "Esa solicitud la atiende un asesor; lo transfiero ahora mismo."),
    "en": ("A specialist will help you with that. Please hold while I transfer you.",),
}
WANT_HUMAN = {"es": ("Prefiero hablar con un asesor.",), "en": ("I'd rather talk to a person.",)}
HANGUP = {"es": ("Eh… mejor llamo después.", "¿Aló? No le escucho bien."), "en": ("Sorry, I'll call back later.",)}
HOLD = {"es": ("Permítame un momento mientras reviso.",), "en": ("Let me check that, one moment please.",)}

OUTBOUND_OPENING = {
    "es": (f"Buenos días, ¿hablo con {{customer}}? Le habla {{agent}}, de {BANK_NAME}.",
           f"Buenas tardes, le llamo de {BANK_NAME}, habla {{agent}}. ¿Me comunica con {{customer}}?"),
    "en": (f"Good morning, am I speaking with {{customer}}? This is {{agent}} from {BANK_NAME}.",),
}
OUTBOUND_ANSWER = {"es": ("Sí, soy yo.", "Sí, soy yo. ¿Qué pasó?", "Sí, dígame."),
                   "en": ("Yes, speaking.",)}
OUTBOUND_ASK_ID = {"es": ("Antes de seguir, ¿me confirma su número de documento?",),
                   "en": ("Before we go on, could you confirm your ID number?",)}
OUTBOUND_BYE_CUSTOMER = {"es": ("Listo, de acuerdo.", "Bueno, gracias."), "en": ("Alright, thanks.",)}
OUTBOUND_BYE_AGENT = {"es": ("Gracias por su tiempo. Que tenga un buen día.",),
                      "en": ("Thank you for your time. Have a good day.",)}
#: why the agent calls, per topic ("_" for any other)
OUTBOUND_REASON = {
    "es": {"cobranza": "Le llamo porque su crédito tiene una cuota vencida de {amount} pesos.",
           "devolucion_llamada": "Le devuelvo la llamada que nos hizo hace un rato.",
           "_": "Le llamo por su solicitud de {label}."},
    "en": {"cobranza": "I'm calling because your loan has an overdue instalment of {amount} pesos.",
           "devolucion_llamada": "I'm returning the call you made to us earlier.",
           "_": "I'm calling about your request: {label}."},
}

WHATSAPP_BOT_GREETING = {
    "es": (f"¡Hola {{name}}! Soy el asistente de {BANK_NAME} en WhatsApp. Ya reviso tu solicitud.",),
    "en": (f"Hi {{name}}! I'm {BANK_NAME}'s WhatsApp assistant. Let me look into it.",),
}
WHATSAPP_BOT_VOICE_NOTE = {
    "es": ("Recibí tu nota de voz. Para atenderte más rápido, cuéntame por escrito en qué te ayudo.",),
    "en": ("I got your voice note. To help you faster, please tell me in writing what you need.",),
}
WHATSAPP_BOT_HANDOFF = {
    "es": ("Te paso con un asesor humano; te responde en unos minutos.",
           "Para esto necesitas un asesor. Llámanos a la línea {line} o espera que te escribimos."),
    "en": ("I'm handing you to a human agent; they'll reply in a few minutes.",),
}
WHATSAPP_THANKS = {"es": ("gracias!", "Listo, muchas gracias 🙏", "ok"), "en": ("thanks!",)}
WHATSAPP_BOT_BYE = {
    "es": ("Con gusto. Recuerda: nunca te pediremos claves ni códigos por este medio.",),
    "en": ("You're welcome. Remember: we never ask for passwords or codes here.",),
}

_DIGITS_ES = ("cero", "uno", "dos", "tres", "cuatro", "cinco", "seis", "siete", "ocho", "nueve")
_DIGITS_EN = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")


def script(topic: str, language: str) -> TopicScript:
    """The script of ``topic`` in ``language``; topics without an English script fall back to
    Spanish and unknown topics to the balance enquiry (every journey still reads coherently)."""
    if language == "en" and topic in _EN:
        return _EN[topic]
    return _ES.get(topic, _ES["saldo_movimientos"])


def topic_label(topic: str, language: str) -> str:
    t = TOPICS.get(topic)
    if t is None:
        return topic
    return t.label_en if language == "en" else t.label_es


def spoken_digits(digits: str, language: str) -> str:
    """Digits read one by one, as a caller dictates a code (``4 8 2`` → ``cuatro ocho dos``)."""
    words = _DIGITS_EN if language == "en" else _DIGITS_ES
    return " ".join(words[int(d)] for d in digits if d.isdigit())


def draw_slots(rng: random.Random, language: str = "es") -> dict[str, str]:
    """Values for a script's placeholders: amounts in Colombian peso format, a due day, ids."""
    amount = rng.randrange(20, 4_800) * 1000 + rng.choice((0, 0, 500, 900))
    return {
        "amount": f"{amount:,}".replace(",", "."),
        "fee": f"{rng.choice((5_900, 6_800, 7_500)):,}".replace(",", "."),
        "last4": f"{rng.randrange(10_000):04d}",
        "ticket": f"RC-{rng.randrange(10**6, 10**7)}",
        "day": (f"the {rng.randrange(1, 29)}th of next month" if language == "en"
                else f"{rng.randrange(1, 29)} del próximo mes"),
        "rate": f"{rng.randrange(140, 280) / 10:.1f}".replace(".", ","),
        "otp": f"{rng.randrange(10**6):06d}",
    }


def fill(template: str, slots: dict[str, str]) -> str:
    return template.format_map(_Missing(slots))


class _Missing(dict):
    """format_map mapping that leaves unknown placeholders visible instead of raising."""

    def __missing__(self, key: str) -> str:
        return "{" + key + "}"
