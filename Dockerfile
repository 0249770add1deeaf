# One image for the broker (and, later, the operator). Build: docker build -t samsa .
FROM node:24-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json ./
COPY broker ./broker
RUN npx tsc -p tsconfig.json && npm prune --omit=dev

FROM node:24-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
RUN mkdir -p /var/lib/samsa && chown node:node /var/lib/samsa
USER node
VOLUME /var/lib/samsa
EXPOSE 9092 9644
ENTRYPOINT ["node", "dist/broker/main.js", "--host", "0.0.0.0", "--data-dir", "/var/lib/samsa"]
