"""主动推送: offers of services residents are entitled to, before they ask.

``scan`` finds who becomes (or is) eligible for each proactive item over the whole registry;
the rest of the package stores the offers exactly once, sends them (SMS, WeChat, the app),
reads the gateway's callbacks and files the 秒批 application when a resident accepts.
"""
