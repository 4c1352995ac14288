// The session of a signed-in user, as the signed-in read benchmarks store it (redis-app.ts,
// decrypted-memo.ts): one key per concern, seven keys, about 0.7 KB of JSON.
export const SIGNED_IN: Record<string, unknown> = {
  userId: 'u-4815162342',
  name: 'Ada Lovelace',
  email: 'ada.lovelace@example.com',
  roles: ['customer', 'beta-tester'],
  csrf: 'Vx3kq9J2mR8tL5wZ0pN7bC4hF6yD1sG_aE-uQiKoTjM',
  cart: [
    { sku: 'TEA-EARLGREY-250', qty: 2, price: 7.5 },
    { sku: 'MUG-STONEWARE-BLUE', qty: 1, price: 14 },
    { sku: 'BISCUIT-SHORTBREAD-12', qty: 3, price: 4.25 },
  ],
  preferences: { theme: 'dark', language: 'en-GB', currency: 'GBP', newsletter: false },
}
