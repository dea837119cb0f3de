/*
 * souk/souk.h — umbrella header: everything an app needs from libsouk.
 *
 * The API guide is docs/sdk.md; thread rules are in docs/threading.md; error codes in
 * docs/errors.md.
 */
#ifndef SOUK_SOUK_H
#define SOUK_SOUK_H

#include "souk/common.h"
#include "souk/version.h"
#include "souk/errors.h"
#include "souk/content.h"
#include "souk/message.h"
#include "souk/context.h"
#include "souk/push.h"
#include "souk/conversation.h"
#include "souk/event.h"
#include "souk/client.h"

#endif
